package io.grad4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import io.grad4j.backend.MatmulShape;
import org.junit.jupiter.api.Test;

/**
 * The plain-Java matmul on products large enough to be shared between threads, in every layout,
 * at offsets inside larger arrays: each element must be the sum over p in ascending order of its
 * rounded products (what one thread and the untransposed loop compute), so bit for bit the
 * reference below, and nothing outside C's range is written.
 */
class JavaGemmTest {
    private static final ParallelLoops FOUR = new ParallelLoops(4);

    @Test
    void sharedRowsGiveTheSerialSumsInEveryLayout() {
        Random random = new Random(7);
        // {1000, 1, 3000}: a transposed B of one column (no copy) with rows shared between threads
        int[][] sizes = {{300, 77, 129}, {64, 256, 784}, {5, 3000, 90}, {1000, 1, 300}, {1000, 1, 3000}, {2, 2, 2}};
        for (int[] mnk : sizes) {
            for (int layout = 0; layout < 4; layout++) {
                int m = mnk[0], n = mnk[1], k = mnk[2];
                MatmulShape s = new MatmulShape(1, m, n, k, (layout & 1) != 0, (layout & 2) != 0, 0, 0);
                String what = "m=" + m + " n=" + n + " k=" + k + " transA=" + s.transposeA() + " transB=" + s.transposeB();
                int aOff = 3, bOff = 5, cOff = 11;
                float[] a = randomFloats(random, aOff + m * k);
                float[] b = randomFloats(random, bOff + k * n);
                float[] c = randomFloats(random, cOff + m * n + 4);
                float[] expected = c.clone();
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        float sum = 0f;
                        for (int p = 0; p < k; p++) {
                            float av = s.transposeA() ? a[aOff + p * m + i] : a[aOff + i * k + p];
                            float bv = s.transposeB() ? b[bOff + j * k + p] : b[bOff + p * n + j];
                            sum += av * bv;
                        }
                        expected[cOff + i * n + j] = sum;
                    }
                }
                new JavaGemm(FOUR).sgemm(s, a, aOff, b, bOff, c, cOff);
                assertArrayEquals(expected, c, what + " (float)");

                double[] ad = toDoubles(a), bd = toDoubles(b), cd = toDoubles(c);
                double[] expectedD = cd.clone();
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double sum = 0;
                        for (int p = 0; p < k; p++) {
                            double av = s.transposeA() ? ad[aOff + p * m + i] : ad[aOff + i * k + p];
                            double bv = s.transposeB() ? bd[bOff + j * k + p] : bd[bOff + p * n + j];
                            sum += av * bv;
                        }
                        expectedD[cOff + i * n + j] = sum;
                    }
                }
                java.util.Arrays.fill(cd, cOff, cOff + m * n, Double.NaN); // C's old contents must not matter
                new JavaGemm(FOUR).dgemm(s, ad, aOff, bd, bOff, cd, cOff);
                assertArrayEquals(expectedD, cd, what + " (double)");
            }
        }
    }

    @Test
    void itsNameSaysHowManyThreads() {
        assertEquals("java (loops, 4 threads)", new JavaGemm(FOUR).name());
        assertEquals("java (loops, 1 thread)", new JavaGemm(new ParallelLoops(1)).name());
    }

    private static float[] randomFloats(Random random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    private static double[] toDoubles(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i] * 1.000001;
        }
        return d;
    }
}
