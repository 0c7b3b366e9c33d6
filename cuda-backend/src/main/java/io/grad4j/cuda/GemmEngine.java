package io.grad4j.cuda;

import io.grad4j.backend.MatmulShape;

/** A library that computes the backend's matrix products on its stream (cuBLAS through JCublas2 or directly). */
interface GemmEngine {
    /** C = op(A) @ op(B) for every batch entry, row-major, as {@link MatmulShape} describes; queued, not awaited. */
    void gemm(MatmulShape s, CudaStorage a, CudaStorage b, CudaStorage c);

    /** Names the library in {@code grad4j info}. */
    String describe();
}
