package io.grad4j.optim;

/**
 * A learning rate as a function of the epoch (0 for the first), in closed form, so resuming from a
 * checkpoint needs only the epoch. Typical use, once per epoch before training on it:
 * <pre>
 *   LearningRateSchedule schedule = new CosineAnnealingLR(0.1, epochs, 0.0);
 *   for (int epoch = 0; epoch < epochs; epoch++) {
 *       schedule.applyTo(optimizer, epoch);
 *       ... train one epoch ...
 *   }
 * </pre>
 */
@FunctionalInterface
public interface LearningRateSchedule {
    /** The learning rate for {@code epoch} (>= 0). */
    double lr(int epoch);

    /** Sets the optimizer's learning rate to {@code lr(epoch)}. */
    default void applyTo(Optimizer optimizer, int epoch) {
        optimizer.setLearningRate(lr(epoch));
    }
}
