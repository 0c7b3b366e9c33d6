package io.grad4j.optim;

import io.grad4j.Tensor;

import java.util.Map;

/**
 * Updates parameters from their accumulated gradients.
 *
 * <p>State for checkpoints: {@link #state()} names every buffer {@code "<i>.<buffer>"}, where
 * {@code i} is the parameter's position in the list the optimizer was built with (for example
 * {@code "0.momentum"}, {@code "3.exp_avg"}). A parameter that has not been stepped yet has no
 * entries. The learning rate and the other hyperparameters are not part of the state: they come
 * from the constructor (and {@link #setLearningRate}, for schedules).
 */
public interface Optimizer {
    void step();

    /** Zeroes every parameter's gradient. */
    void zeroGrad();

    /** The learning rate the next {@link #step()} uses. */
    double learningRate();

    /** Sets the learning rate for later steps (schedules call this); lr must be finite and >= 0. */
    void setLearningRate(double lr);

    /**
     * Copies of the optimizer's buffers, keyed as described in the class comment. The copies
     * belong to the caller (an open {@code TensorScope} closes them) and stay valid whatever the
     * optimizer does next.
     */
    Map<String, Tensor> state();

    /**
     * Replaces the whole state with copies of {@code state}'s tensors, as {@link #state()} exported
     * it: a parameter without entries starts fresh. Unknown or incomplete names, and buffers whose
     * shape or dtype differ from their parameter's, throw {@link IllegalArgumentException} before
     * anything changes. Tensors on another backend are copied to the parameter's.
     */
    void loadState(Map<String, Tensor> state);
}
