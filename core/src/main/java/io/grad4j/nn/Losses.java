package io.grad4j.nn;

import io.grad4j.DType;
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

    /**
     * The same with the labels as a tensor: INT32 or INT64, shape [batch], on the logits' backend
     * (PyTorch's {@code F.cross_entropy(logits, labels)}). Where the backend's memory is the host's
     * (cpu) the labels are read there and the fused kernel runs; on a device (cuda) the loss is
     * composed on the device instead, {@code -mean(gather(logSoftmax(logits), labels))}, so the
     * host never waits for the device: a label out of range is then gather's
     * IndexOutOfBoundsException, reported at the next synchronisation.
     */
    public static Tensor crossEntropy(Tensor logits, Tensor labels) {
        if (logits == null || labels == null) {
            throw new IllegalArgumentException("crossEntropy: " + (logits == null ? "logits" : "labels") + " are null");
        }
        if (labels.dtype() != DType.INT32 && labels.dtype() != DType.INT64) {
            throw new IllegalArgumentException("crossEntropy: labels must be INT32 or INT64 class indices, got "
                    + labels.dtype() + " " + Arrays.toString(labels.shape()));
        }
        if (labels.backend() != logits.backend()) {
            throw new IllegalArgumentException("crossEntropy: labels are on " + labels.backend().name() + " but logits on "
                    + logits.backend().name() + " (move one with to(Backend))");
        }
        if (labels.rank() != 1) {
            throw new IllegalArgumentException("crossEntropy: labels must be 1-D [batch], got shape "
                    + Arrays.toString(labels.shape()));
        }
        if (!logits.backend().hostMemory()) {
            if (logits.rank() != 2 || logits.shape()[0] != labels.shape()[0] || labels.shape()[0] == 0) {
                throw new IllegalArgumentException("crossEntropy: logits must be [batch, classes] with batch >= 1 and"
                        + " labels [batch], got " + Arrays.toString(logits.shape()) + " and " + Arrays.toString(labels.shape()));
            }
            return logits.logSoftmax(1).gather(1, labels.reshape(labels.shape()[0], 1)).neg().mean();
        }
        long[] values = labels.toLongArray();
        int classes = logits.rank() == 2 ? logits.shape()[1] : Integer.MAX_VALUE;
        int[] asInts = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            if (values[i] < 0 || values[i] >= classes) {
                throw new IndexOutOfBoundsException("crossEntropy: label " + values[i] + " at batch index " + i
                        + " is out of range [0, " + classes + ")");
            }
            asInts[i] = (int) values[i];
        }
        return logits.crossEntropy(asInts);
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
