package io.grad4j.data;

import io.grad4j.Tensor;

/** One batch: features [n, features] (FLOAT32, on the current backend) and n labels. */
public record Batch(Tensor features, int[] labels) {
    public int size() {
        return labels.length;
    }
}
