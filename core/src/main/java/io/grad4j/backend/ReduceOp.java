package io.grad4j.backend;

/** Reductions along one axis. */
public enum ReduceOp {
    SUM, MAX
}
