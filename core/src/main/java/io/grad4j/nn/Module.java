package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.List;

/** A differentiable function with parameters. */
public interface Module {
    Tensor forward(Tensor x);

    /** The trainable tensors, in a stable order (optimizers and checkpoints rely on it). */
    List<Tensor> parameters();

    /**
     * Switches to training mode (layers such as {@link Dropout} behave as in training); containers
     * pass it on to their layers. Modules start in training mode; those without modes ignore it.
     */
    default void train() {
    }

    /** Switches to evaluation mode (dropout becomes the identity); containers pass it on. */
    default void eval() {
    }
}
