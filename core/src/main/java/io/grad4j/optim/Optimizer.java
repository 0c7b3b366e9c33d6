package io.grad4j.optim;

/** Updates parameters from their accumulated gradients. */
public interface Optimizer {
    void step();

    /** Zeroes every parameter's gradient. */
    void zeroGrad();
}
