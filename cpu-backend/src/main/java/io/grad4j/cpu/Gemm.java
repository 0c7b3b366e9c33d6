package io.grad4j.cpu;

import io.grad4j.backend.MatmulShape;

/** One engine for dense row-major matrix products on the CPU. */
interface Gemm {
    String name();

    /** c[batch] = op(a[batch]) @ op(b[batch]); offsets in elements. */
    void sgemm(MatmulShape s, float[] a, long aOffset, float[] b, long bOffset, float[] c, long cOffset);

    void dgemm(MatmulShape s, double[] a, long aOffset, double[] b, long bOffset, double[] c, long cOffset);
}
