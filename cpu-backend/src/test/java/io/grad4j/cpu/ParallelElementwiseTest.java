package io.grad4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;

import io.grad4j.DType;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.Storage;
import io.grad4j.backend.UnaryOp;
import org.junit.jupiter.api.Test;

/**
 * Long elementwise operations shared between 4 threads give, bit for bit, what one thread gives:
 * every unary op and its backward, and binary ops over one long run (same shapes), many short
 * runs (a bias add over rows), a broadcast column, a transposed operand and a 3-d broadcast whose
 * runs start mid-way through the outer axes (one whose outer axes do not merge). The conformance suites check the one-thread results
 * themselves; NaN, infinities and signed zeros are in the inputs.
 */
class ParallelElementwiseTest {
    private static final CpuBackend ONE = new CpuBackend(new JavaGemm(new ParallelLoops(1)), new ParallelLoops(1));
    private static final ParallelLoops FOUR_THREADS = new ParallelLoops(4);
    private static final CpuBackend FOUR = new CpuBackend(new JavaGemm(FOUR_THREADS), FOUR_THREADS);

    @Test
    void unaryOpsAndTheirBackwardAreTheSameBitsOnFourThreads() {
        int n = 300_007;
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            double[] x = values(n, 1);
            double[] g = values(n, 2);
            for (UnaryOp op : UnaryOp.values()) {
                double p = op == UnaryOp.POW ? 3.0 : 0.75;
                double[] y1 = unary(ONE, dtype, op, p, x);
                double[] y4 = unary(FOUR, dtype, op, p, x);
                assertArrayEquals(y1, y4, dtype + " " + op);
                assertArrayEquals(backward(ONE, dtype, op, p, x, y1, g), backward(FOUR, dtype, op, p, x, y1, g),
                        dtype + " " + op + " backward");
            }
        }
    }

    @Test
    void binaryOpsInEveryLayoutAreTheSameBitsOnFourThreads() {
        int rows = 1_001, cols = 300;
        Case[] cases = {
            // out shape, a strides, a length, b strides, b length
            new Case("same shapes", new int[] {rows * cols}, new long[] {1}, rows * cols, new long[] {1}, rows * cols),
            new Case("bias add over rows", new int[] {rows, cols}, new long[] {cols, 1}, rows * cols, new long[] {0, 1}, cols),
            new Case("broadcast column", new int[] {rows, cols}, new long[] {cols, 1}, rows * cols, new long[] {1, 0}, rows),
            new Case("transposed a", new int[] {rows, cols}, new long[] {1, rows}, rows * cols, new long[] {cols, 1},
                    rows * cols),
            new Case("3-d broadcast", new int[] {7, 143, 300}, new long[] {143 * 300, 300, 1}, 7 * 143 * 300,
                    new long[] {0, 300, 1}, 143 * 300),
            // a stored as [201][5][300] and read as [5][201][300]: no axes merge, so a thread's
            // first run starts from an index decomposed over both outer axes
            new Case("outer axes swapped", new int[] {5, 201, 300}, new long[] {300, 1500, 1}, 5 * 201 * 300,
                    new long[] {0, 300, 1}, 201 * 300),
        };
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (Case c : cases) {
                double[] a = values((int) c.aLength, 3);
                double[] b = values((int) c.bLength, 4);
                for (BinaryOp op : BinaryOp.values()) {
                    assertArrayEquals(binary(ONE, dtype, op, c, a, b), binary(FOUR, dtype, op, c, a, b),
                            dtype + " " + c.name + " " + op);
                }
            }
        }
    }

    /**
     * Strided copies (transposes go in 64 x 64 tiles, other layouts by rows) on 1 and 4 threads
     * against a gather written out here: sizes that are not multiples of the tile, a batch of
     * transposes (the tiles' outer index decomposed), a broadcast row and a 3-d permutation.
     */
    @Test
    void stridedCopiesGatherEveryElementOnOneAndFourThreads() {
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (Case c : new Case[] {
                new Case("transpose", new int[] {300, 1_001}, new long[] {1, 300}, 300 * 1_001, null, 0),
                new Case("small transpose", new int[] {3, 70}, new long[] {1, 3}, 3 * 70, null, 0),
                new Case("batch of transposes", new int[] {3, 130, 517}, new long[] {130 * 517, 1, 130}, 3 * 130 * 517,
                        null, 0),
                new Case("row broadcast", new int[] {1_001, 300}, new long[] {0, 1}, 300, null, 0),
                new Case("3-d permutation", new int[] {5, 201, 300}, new long[] {300, 1500, 1}, 5 * 201 * 300, null, 0),
                new Case("last axis gathered across the first", new int[] {40, 30, 50}, new long[] {1, 40 * 50, 40},
                        40 * 30 * 50, null, 0),
            }) {
                double[] a = values((int) c.aLength, 5);
                double[] expected = gather(dtype, c, a);
                assertArrayEquals(expected, stridedCopy(ONE, dtype, c, a), dtype + " " + c.name + ", 1 thread");
                assertArrayEquals(expected, stridedCopy(FOUR, dtype, c, a), dtype + " " + c.name + ", 4 threads");
            }
        }
    }

    /** out[i0, i1, ...] = a[sum of i_k * stride_k], in the dtype's values. */
    private static double[] gather(DType dtype, Case c, double[] a) {
        double[] out = new double[(int) c.elements()];
        int[] idx = new int[c.shape.length];
        for (int o = 0; o < out.length; o++) {
            long at = 0;
            for (int k = 0; k < idx.length; k++) {
                at += idx[k] * c.aStrides[k];
            }
            out[o] = dtype == DType.FLOAT32 ? (float) a[(int) at] : a[(int) at];
            for (int k = idx.length - 1; k >= 0 && ++idx[k] == c.shape[k]; k--) {
                idx[k] = 0;
            }
        }
        return out;
    }

    private static double[] stridedCopy(CpuBackend be, DType dtype, Case c, double[] a) {
        Storage out = be.allocate(dtype, c.elements());
        be.stridedCopy(upload(be, dtype, a), c.aStrides, out, c.shape);
        return download(be, dtype, out, (int) c.elements());
    }

    /**
     * A batch of small products shared out by whole products on 4 threads gives each product's
     * bits (each is one call either way), with shared and broadcast operands; and a short, wide
     * transpose (one band of 64 rows) is the same on 4 threads as on one.
     */
    @Test
    void batchesOfSmallProductsAndWideTransposesAreTheSameBitsOnFourThreads() {
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            int batch = 300, m = 17, n = 19, k = 23;
            for (long strideB : new long[] {(long) k * n, 0}) {
                double[] a = values(batch * m * k, 6);
                double[] b = values((int) Math.max(strideB * batch, k * n), 7);
                io.grad4j.backend.MatmulShape s = new io.grad4j.backend.MatmulShape(batch, m, n, k, false, true,
                        (long) m * k, strideB);
                assertArrayEquals(matmul(ONE, dtype, s, a, b), matmul(FOUR, dtype, s, a, b),
                        dtype + " batch of " + batch + ", B stride " + strideB);
            }
            Case wide = new Case("short wide transpose", new int[] {40, 20_000}, new long[] {1, 40}, 40 * 20_000, null, 0);
            double[] x = values((int) wide.aLength, 8);
            assertArrayEquals(gather(dtype, wide, x), stridedCopy(FOUR, dtype, wide, x), dtype + " " + wide.name);
        }
    }

    private static double[] matmul(CpuBackend be, DType dtype, io.grad4j.backend.MatmulShape s, double[] a, double[] b) {
        Storage out = be.allocate(dtype, (long) s.batch() * s.m() * s.n());
        be.matmul(upload(be, dtype, a), upload(be, dtype, b), out, s);
        return download(be, dtype, out, s.batch() * s.m() * s.n());
    }

    private record Case(String name, int[] shape, long[] aStrides, long aLength, long[] bStrides, long bLength) {
        long elements() {
            long e = 1;
            for (int s : shape) {
                e *= s;
            }
            return e;
        }
    }

    private static double[] unary(CpuBackend be, DType dtype, UnaryOp op, double p, double[] x) {
        Storage in = upload(be, dtype, x);
        Storage out = be.allocate(dtype, x.length);
        be.unary(op, p, in, out);
        return download(be, dtype, out, x.length);
    }

    private static double[] backward(CpuBackend be, DType dtype, UnaryOp op, double p, double[] x, double[] y, double[] g) {
        Storage out = be.allocate(dtype, x.length);
        be.unaryBackward(op, p, upload(be, dtype, x), upload(be, dtype, y), upload(be, dtype, g), out);
        return download(be, dtype, out, x.length);
    }

    private static double[] binary(CpuBackend be, DType dtype, BinaryOp op, Case c, double[] a, double[] b) {
        Storage out = be.allocate(dtype, c.elements());
        be.binary(op, upload(be, dtype, a), c.aStrides, upload(be, dtype, b), c.bStrides, out, c.shape);
        return download(be, dtype, out, (int) c.elements());
    }

    private static Storage upload(CpuBackend be, DType dtype, double[] v) {
        if (dtype == DType.FLOAT64) {
            return be.upload(v.clone());
        }
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return be.upload(f);
    }

    private static double[] download(CpuBackend be, DType dtype, Storage s, int n) {
        double[] d = new double[n];
        if (dtype == DType.FLOAT64) {
            be.download(s, d);
            return d;
        }
        float[] f = new float[n];
        be.download(s, f);
        for (int i = 0; i < n; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** Gaussian values with NaN, infinities and both zeros sprinkled in. */
    private static double[] values(int n, long seed) {
        Random r = new Random(seed);
        double[] v = new double[n];
        double[] special = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0};
        for (int i = 0; i < n; i++) {
            v[i] = i % 997 == 0 ? special[(i / 997) % special.length] : 3 * r.nextGaussian();
        }
        return v;
    }
}
