package io.grad4j.autograd;

import io.grad4j.Tensor;

/**
 * A user-defined differentiable operation, applied with {@link Autograd#apply}. {@link #forward}
 * runs without recording history; {@link #backward} maps the output's gradient to one gradient
 * per input (null for none), each of its input's shape.
 */
public interface CustomFunction {
    Tensor forward(Tensor... inputs);

    Tensor[] backward(Tensor[] inputs, Tensor output, Tensor gradOutput);
}
