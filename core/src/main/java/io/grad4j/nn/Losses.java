package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.Arrays;

/** Loss functions, averaged over the batch. */
public final class Losses {
    private Losses() {
    }

    /**
     * Mean negative log-likelihood of the labels under softmax(logits): logits [batch, classes],
     * labels in [0, classes). One fused backend pass per row (max-subtracted, so large logits are
     * safe), whose gradient is (softmax - onehot) / batch. The mean is fused into that pass
     * ({@link Tensor#crossEntropy}), forward and backward.
     */
    public static Tensor crossEntropy(Tensor logits, int[] labels) {
        return logits.crossEntropy(labels); // it refuses an empty batch, whose mean is undefined
    }

    /** Mean squared error over every element; shapes must match exactly. */
    public static Tensor mse(Tensor prediction, Tensor target) {
        if (!Arrays.equals(prediction.shape(), target.shape())) {
            throw new IllegalArgumentException("mse: prediction " + Arrays.toString(prediction.shape())
                    + " and target " + Arrays.toString(target.shape()) + " must have the same shape");
        }
        Tensor d = prediction.sub(target);
        return d.mul(d).mean();
    }
}
