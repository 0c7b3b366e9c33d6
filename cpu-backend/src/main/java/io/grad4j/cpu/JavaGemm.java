package io.grad4j.cpu;

import io.grad4j.backend.MatmulShape;

/**
 * Plain-Java matrix product, used where OpenBLAS cannot be loaded (an unsupported platform, the
 * GPU machines' bundle, or grad4j.cpu.gemm=java). Loop order i-p-j keeps the innermost loop
 * contiguous in B and C so the JIT vectorises it; a transposed B is first copied into its
 * untransposed layout (k x n: O(kn) work beside the product's O(mnk)) so that this holds for
 * every layout. Rows of C are shared between threads ({@link ParallelLoops}). Every element is
 * the sum over p in ascending order of its rounded products, whatever the layout or the number of
 * threads, so results are the same bits everywhere.
 */
final class JavaGemm implements Gemm {
    private final ParallelLoops loops;

    JavaGemm() {
        this(ParallelLoops.shared());
    }

    JavaGemm(ParallelLoops loops) {
        this.loops = loops;
    }

    @Override
    public String name() {
        return "java (loops, " + loops.threads() + (loops.threads() == 1 ? " thread)" : " threads)");
    }

    @Override
    public void sgemm(MatmulShape s, float[] a, long aOff, float[] b, long bOff, float[] c, long cOff) {
        int m = s.m(), n = s.n(), k = s.k();
        int ao = (int) aOff, co = (int) cOff;
        float[] bRows = b;
        int bo = (int) bOff;
        if (s.transposeB() && n > 1) {
            bRows = CpuStorage.POOL.floats(k * n);
            for (int j = 0; j < n; j++) {
                for (int p = 0; p < k; p++) {
                    bRows[p * n + j] = b[bo + j * k + p];
                }
            }
            bo = 0;
        }
        float[] bv = bRows;
        int bOffset = bo;
        try {
            loops.forRange(m, rowsPerThread(n, k), 1, (from, to) -> {
                for (int i = (int) from; i < to; i++) {
                    int crow = co + i * n;
                    java.util.Arrays.fill(c, crow, crow + n, 0f);
                    for (int p = 0; p < k; p++) {
                        float av = s.transposeA() ? a[ao + p * m + i] : a[ao + i * k + p];
                        int brow = bOffset + p * n;
                        for (int j = 0; j < n; j++) {
                            c[crow + j] += av * bv[brow + j];
                        }
                    }
                }
            });
        } finally {
            if (bRows != b) {
                CpuStorage.POOL.give(bRows);
            }
        }
    }

    @Override
    public void dgemm(MatmulShape s, double[] a, long aOff, double[] b, long bOff, double[] c, long cOff) {
        int m = s.m(), n = s.n(), k = s.k();
        int ao = (int) aOff, co = (int) cOff;
        double[] bRows = b;
        int bo = (int) bOff;
        if (s.transposeB() && n > 1) {
            bRows = CpuStorage.POOL.doubles(k * n);
            for (int j = 0; j < n; j++) {
                for (int p = 0; p < k; p++) {
                    bRows[p * n + j] = b[bo + j * k + p];
                }
            }
            bo = 0;
        }
        double[] bv = bRows;
        int bOffset = bo;
        try {
            loops.forRange(m, rowsPerThread(n, k), 1, (from, to) -> {
                for (int i = (int) from; i < to; i++) {
                    int crow = co + i * n;
                    java.util.Arrays.fill(c, crow, crow + n, 0.0);
                    for (int p = 0; p < k; p++) {
                        double av = s.transposeA() ? a[ao + p * m + i] : a[ao + i * k + p];
                        int brow = bOffset + p * n;
                        for (int j = 0; j < n; j++) {
                            c[crow + j] += av * bv[brow + j];
                        }
                    }
                }
            });
        } finally {
            if (bRows != b) {
                CpuStorage.POOL.give(bRows);
            }
        }
    }

    /** Rows per thread below which a product stays on one thread (rounded up: never less work per thread). */
    private static long rowsPerThread(int n, int k) {
        long flopsPerRow = Math.max(1L, (long) n * k);
        return Math.max(1L, Math.ceilDiv(MIN_FLOPS_PER_THREAD, flopsPerRow));
    }
}
