package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.List;

/** A differentiable function with parameters. */
public interface Module {
    Tensor forward(Tensor x);

    /** The trainable tensors, in a stable order (optimizers and checkpoints rely on it). */
    List<Tensor> parameters();
}
