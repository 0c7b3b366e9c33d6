package io.grad4j.autograd;

/** How {@link Autograd#jacobian(java.util.function.Function, io.grad4j.Tensor, JacobianMode)} builds J. */
public enum JacobianMode {
    /** Row by row from VJPs: one backward pass per output element (cheap when f has few outputs). */
    REVERSE,
    /** Column by column from JVPs: one forward pass per input element (cheap when x is small). */
    FORWARD
}
