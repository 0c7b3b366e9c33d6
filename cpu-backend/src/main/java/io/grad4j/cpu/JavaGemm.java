package io.grad4j.cpu;

import io.grad4j.backend.MatmulShape;

/**
 * Plain-Java matrix product, used where OpenBLAS cannot be loaded (an unsupported platform, or
 * grad4j.cpu.gemm=java). Loop order i-p-j keeps the innermost loop contiguous in B and C for the
 * common untransposed case so the JIT vectorises it.
 */
final class JavaGemm implements Gemm {
    @Override
    public String name() {
        return "java (loops)";
    }

    @Override
    public void sgemm(MatmulShape s, float[] a, long aOff, float[] b, long bOff, float[] c, long cOff) {
        int m = s.m(), n = s.n(), k = s.k();
        int ao = (int) aOff, bo = (int) bOff, co = (int) cOff;
        java.util.Arrays.fill(c, co, co + m * n, 0f);
        for (int i = 0; i < m; i++) {
            int crow = co + i * n;
            for (int p = 0; p < k; p++) {
                float av = s.transposeA() ? a[ao + p * m + i] : a[ao + i * k + p];
                if (!s.transposeB()) {
                    int brow = bo + p * n;
                    for (int j = 0; j < n; j++) {
                        c[crow + j] += av * b[brow + j];
                    }
                } else {
                    for (int j = 0; j < n; j++) {
                        c[crow + j] += av * b[bo + j * k + p];
                    }
                }
            }
        }
    }

    @Override
    public void dgemm(MatmulShape s, double[] a, long aOff, double[] b, long bOff, double[] c, long cOff) {
        int m = s.m(), n = s.n(), k = s.k();
        int ao = (int) aOff, bo = (int) bOff, co = (int) cOff;
        java.util.Arrays.fill(c, co, co + m * n, 0.0);
        for (int i = 0; i < m; i++) {
            int crow = co + i * n;
            for (int p = 0; p < k; p++) {
                double av = s.transposeA() ? a[ao + p * m + i] : a[ao + i * k + p];
                if (!s.transposeB()) {
                    int brow = bo + p * n;
                    for (int j = 0; j < n; j++) {
                        c[crow + j] += av * b[brow + j];
                    }
                } else {
                    for (int j = 0; j < n; j++) {
                        c[crow + j] += av * b[bo + j * k + p];
                    }
                }
            }
        }
    }
}
