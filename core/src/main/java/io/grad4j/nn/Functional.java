package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.Arrays;

/** Layers as functions of their inputs and weights (PyTorch's {@code torch.nn.functional}), weights in PyTorch's layouts. */
public final class Functional {
    private Functional() {
    }

    /**
     * The rows of {@code weight} [num, dim] picked by {@code indices} (INT32 or INT64, any shape):
     * a tensor of shape indices.shape + [dim]. Its gradient sums the upstream rows of repeated
     * indices into their weight row, in a fixed order.
     */
    public static Tensor embedding(Tensor indices, Tensor weight) {
        if (indices == null || weight == null) {
            throw new IllegalArgumentException("embedding: indices and weight must not be null");
        }
        if (weight.rank() != 2) {
            throw new IllegalArgumentException("embedding: the weight must be [num, dim], got shape "
                    + Arrays.toString(weight.shape()));
        }
        int[] shape = Arrays.copyOf(indices.shape(), indices.rank() + 1);
        shape[indices.rank()] = weight.shape()[1];
        Tensor flat = indices.rank() == 1 ? indices : indices.reshape(-1);
        return weight.indexSelect(0, flat).reshape(shape);
    }
}
