package io.grad4j.backend;

import io.grad4j.DType;

/**
 * A flat, contiguous buffer of elements owned by one {@link Backend}. Tensors give it meaning
 * (shape, row-major order); the backend only sees lengths, strides and element counts.
 */
public interface Storage {
    DType dtype();

    /** Number of elements. */
    long length();

    /**
     * Gives the memory back to the backend now. Called exactly once by core when the last tensor
     * using this storage is closed or collected; a backend may pool the memory for reuse.
     */
    void release();
}
