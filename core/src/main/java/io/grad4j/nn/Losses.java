package io.grad4j.nn;

import io.grad4j.Tensor;
import io.grad4j.backend.Backends;

import java.util.Arrays;

/** Loss functions, averaged over the batch. */
public final class Losses {
    private Losses() {
    }

    /**
     * Mean negative log-likelihood of the labels under softmax(logits): logits [batch, classes],
     * labels in [0, classes). Computed as log-softmax (max-subtracted, so large logits are safe)
     * times a one-hot mask, whose gradient is (softmax - onehot) / batch.
     */
    public static Tensor crossEntropy(Tensor logits, int[] labels) {
        int[] s = logits.shape();
        if (s.length != 2) {
            throw new IllegalArgumentException("crossEntropy: logits must be [batch, classes], got shape " + Arrays.toString(s));
        }
        int batch = s[0];
        int classes = s[1];
        if (labels.length != batch) {
            throw new IllegalArgumentException("crossEntropy: " + labels.length + " labels for a batch of " + batch);
        }
        if (batch == 0) {
            throw new IllegalArgumentException("crossEntropy: empty batch");
        }
        double[] oneHot = new double[batch * classes];
        for (int i = 0; i < batch; i++) {
            int y = labels[i];
            if (y < 0 || y >= classes) {
                throw new IllegalArgumentException("crossEntropy: label " + y + " at batch index " + i
                        + " is out of range [0, " + classes + ")");
            }
            oneHot[i * classes + y] = 1.0;
        }
        Tensor mask;
        try (Backends.Scope ignored = Backends.use(logits.backend())) {
            mask = Tensor.of(oneHot, batch, classes).to(logits.dtype());
        }
        return logits.logSoftmax(1).mul(mask).sum().mul(-1.0 / batch);
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
