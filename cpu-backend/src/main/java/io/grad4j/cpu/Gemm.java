package io.grad4j.cpu;

import io.grad4j.backend.MatmulShape;

/** One engine for dense row-major matrix products on the CPU. */
interface Gemm {
    /**
     * Products (or batches of them) of fewer multiply-adds per thread than this stay on one
     * thread: a hand-off to a helper thread costs at least a wake-up.
     */
    long MIN_FLOPS_PER_THREAD = 1 << 18;

    String name();

    /** c[batch] = op(a[batch]) @ op(b[batch]); offsets in elements. */
    void sgemm(MatmulShape s, float[] a, long aOffset, float[] b, long bOffset, float[] c, long cOffset);

    void dgemm(MatmulShape s, double[] a, long aOffset, double[] b, long bOffset, double[] c, long cOffset);
}
