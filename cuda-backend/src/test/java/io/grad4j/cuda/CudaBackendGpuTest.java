package io.grad4j.cuda;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.GradCheck;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.MatmulShape;
import io.grad4j.backend.ReduceOp;
import io.grad4j.backend.Storage;
import io.grad4j.backend.UnaryOp;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every primitive of the CUDA backend against a plain-Java reference written here from the SPI's
 * definitions (independent of the CPU backend). Skipped, with the probe's reason, without a GPU.
 * Small on purpose: it is also the class compute-sanitizer runs.
 */
class CudaBackendGpuTest {
    private static Backend cuda;
    private final Random rnd = new Random(42);

    @BeforeAll
    static void needsGpu() {
        CudaProbe.Result probe = CudaProbe.result();
        assumeTrue(probe.available(), "no usable CUDA GPU here: " + probe.reason());
        cuda = Backends.get("cuda");
        System.out.println(cuda.description());
    }

    private double[] random(int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextGaussian();
        }
        return v;
    }

    private static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    private static double[] down(Storage s) {
        double[] d = new double[(int) s.length()];
        cuda.download(s, d);
        return d;
    }

    private static void close(double[] expected, double[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            if (Double.isNaN(e)) {
                assertTrue(Double.isNaN(a), what + "[" + i + "]: expected NaN, got " + a);
                continue;
            }
            if (Double.isInfinite(e)) {
                assertEquals(e, a, what + "[" + i + "]");
                continue;
            }
            assertTrue(Math.abs(e - a) <= tol * (1 + Math.abs(e)), what + "[" + i + "]: expected " + e + ", got " + a);
        }
    }

    private Storage up(DType t, double[] v) {
        return t == DType.FLOAT64 ? cuda.upload(v) : cuda.upload(toFloat(v));
    }

    private static double tol(DType t) {
        return t == DType.FLOAT64 ? 1e-12 : 2e-5;
    }

    @Test
    void uploadDownloadFillCastAndZeroLength() {
        double[] v = random(1000);
        Storage d = cuda.upload(v);
        close(v, down(d), 0, "roundtrip f64");
        Storage f = cuda.allocate(DType.FLOAT32, 1000);
        cuda.cast(d, f);
        float[] ff = new float[1000];
        cuda.download(f, ff);
        for (int i = 0; i < 1000; i++) {
            assertEquals((float) v[i], ff[i]);
        }
        cuda.fill(f, 2.5);
        close(new double[]{2.5, 2.5}, java.util.Arrays.copyOf(down(f), 2), 0, "fill");
        Storage copy = cuda.allocate(DType.FLOAT64, 1000);
        cuda.copy(d, copy);
        close(v, down(copy), 0, "copy");
        Storage empty = cuda.allocate(DType.FLOAT32, 0);
        cuda.fill(empty, 1);
        cuda.unary(UnaryOp.EXP, 0, empty, empty);
        cuda.download(empty, new double[0]);
        for (Storage s : new Storage[]{d, f, copy, empty}) {
            s.release();
        }
    }

    @Test
    void unaryAndItsBackwardMatchTheFormulas() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (UnaryOp op : UnaryOp.values()) {
                double p = op == UnaryOp.POW ? 3.0 : 0.7;
                double[] x = random(777);
                if (op == UnaryOp.LOG || op == UnaryOp.SQRT) {
                    for (int i = 0; i < x.length; i++) {
                        x[i] = Math.abs(x[i]) + 0.1;
                    }
                }
                if (t == DType.FLOAT32) {
                    x = toDoubles(toFloat(x));
                }
                double[] g = random(777);
                if (t == DType.FLOAT32) {
                    g = toDoubles(toFloat(g));
                }
                double[] y = new double[x.length];
                double[] dx = new double[x.length];
                for (int i = 0; i < x.length; i++) {
                    y[i] = op.apply(x[i], p);
                }
                Storage xs = up(t, x);
                Storage ys = cuda.allocate(t, x.length);
                cuda.unary(op, p, xs, ys);
                double[] yGpu = down(ys);
                close(y, yGpu, tol(t) * 10, t + " " + op);
                for (int i = 0; i < x.length; i++) {
                    dx[i] = g[i] * op.derivative(x[i], yGpu[i], p);
                }
                Storage gs = up(t, g);
                Storage out = cuda.allocate(t, x.length);
                cuda.unaryBackward(op, p, xs, ys, gs, out);
                close(dx, down(out), tol(t) * 10, t + " " + op + " backward");
                xs.release();
                ys.release();
                gs.release();
                out.release();
            }
        }
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @Test
    void binaryBroadcastsOverStridesAndAccumulatesInPlace() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            int r = 37;
            int c = 70;
            double[] a = random(r * c);
            double[] bias = random(c);
            double[] bT = random(c * r); // stored [c, r], read transposed
            for (BinaryOp op : BinaryOp.values()) {
                Storage as = up(t, a);
                Storage bs = up(t, bias);
                Storage out = cuda.allocate(t, r * c);
                cuda.binary(op, as, new long[]{c, 1}, bs, new long[]{0, 1}, out, new int[]{r, c});
                double[] expect = new double[r * c];
                for (int i = 0; i < r; i++) {
                    for (int j = 0; j < c; j++) {
                        expect[i * c + j] = op.apply(f(t, a[i * c + j]), f(t, bias[j]));
                    }
                }
                close(expect, down(out), tol(t), t + " " + op + " bias");
                Storage bts = up(t, bT);
                cuda.binary(op, as, new long[]{c, 1}, bts, new long[]{1, r}, out, new int[]{r, c});
                for (int i = 0; i < r; i++) {
                    for (int j = 0; j < c; j++) {
                        expect[i * c + j] = op.apply(f(t, a[i * c + j]), f(t, bT[j * r + i]));
                    }
                }
                close(expect, down(out), tol(t), t + " " + op + " transposed");
                as.release();
                bs.release();
                bts.release();
                out.release();
            }
            // out = a + b with out == a (gradient accumulation)
            Storage acc = up(t, a);
            Storage b = up(t, a);
            cuda.binary(BinaryOp.ADD, acc, new long[]{c, 1}, b, new long[]{c, 1}, acc, new int[]{r, c});
            double[] twice = new double[a.length];
            for (int i = 0; i < a.length; i++) {
                twice[i] = 2 * f(t, a[i]);
            }
            close(twice, down(acc), tol(t), t + " in-place add");
            // scalar operand and rank-0
            Storage s = up(t, new double[]{3});
            cuda.binary(BinaryOp.MUL, acc, new long[]{c, 1}, s, new long[]{0, 0}, acc, new int[]{r, c});
            for (int i = 0; i < a.length; i++) {
                twice[i] *= 3;
            }
            close(twice, down(acc), tol(t), t + " scalar mul");
            Storage one = cuda.allocate(t, 1);
            cuda.binary(BinaryOp.SUB, s, new long[0], s, new long[0], one, new int[0]);
            close(new double[]{0}, down(one), 0, "rank 0");
            acc.release();
            b.release();
            s.release();
            one.release();
        }
    }

    private static double f(DType t, double v) {
        return t == DType.FLOAT32 ? (float) v : v;
    }

    @Test
    void stridedCopyMaterialisesPermutationsAndBroadcasts() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            int[] shape = {3, 4, 5};
            double[] src = random(60);
            Storage s = up(t, src);
            Storage d = cuda.allocate(t, 60);
            // dst[i,j,k] = src[k,j,i] of a [5,4,3] tensor: strides (1, 3, 12)
            cuda.stridedCopy(s, new long[]{1, 3, 12}, d, shape);
            double[] expect = new double[60];
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 4; j++) {
                    for (int k = 0; k < 5; k++) {
                        expect[(i * 4 + j) * 5 + k] = f(t, src[k * 12 + j * 3 + i]);
                    }
                }
            }
            close(expect, down(d), 0, t + " permute");
            Storage big = cuda.allocate(t, 60);
            cuda.stridedCopy(s, new long[]{0, 5, 1}, big, shape); // broadcast the first [4,5] block
            for (int i = 0; i < 60; i++) {
                expect[i] = f(t, src[i % 20]);
            }
            close(expect, down(big), 0, t + " broadcast");
            s.release();
            d.release();
            big.release();
        }
    }

    @Test
    void reductionsMaxBackwardAndNaN() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (int[] dims : new int[][]{{6, 1000, 1}, {2, 50000, 1}, {5, 7, 9}, {1, 3, 1}, {4, 0, 1}, {300, 2, 1}}) {
                int outer = dims[0];
                int axis = dims[1];
                int inner = dims[2];
                double[] x = random(outer * axis * inner);
                for (int i = 0; i < x.length; i += 7) {
                    x[i] = Math.round(x[i]); // ties for max
                }
                Storage xs = up(t, x);
                for (ReduceOp op : ReduceOp.values()) {
                    Storage out = cuda.allocate(t, (long) outer * inner);
                    cuda.reduce(op, xs, out, outer, axis, inner);
                    double[] expect = new double[outer * inner];
                    for (int o = 0; o < outer; o++) {
                        for (int i = 0; i < inner; i++) {
                            double acc = op == ReduceOp.SUM ? 0 : Double.NEGATIVE_INFINITY;
                            for (int j = 0; j < axis; j++) {
                                double v = f(t, x[(o * axis + j) * inner + i]);
                                acc = op == ReduceOp.SUM ? acc + v : Math.max(acc, v);
                            }
                            expect[o * inner + i] = acc;
                        }
                    }
                    close(expect, down(out), t == DType.FLOAT64 ? 1e-12 : 1e-5, t + " " + op + " " + java.util.Arrays.toString(dims));
                    if (op == ReduceOp.MAX) {
                        Storage g = up(t, random(outer * inner));
                        double[] gv = down(g);
                        Storage dx = cuda.allocate(t, x.length);
                        cuda.maxBackward(xs, out, g, dx, outer, axis, inner);
                        double[] e = new double[x.length];
                        for (int o = 0; o < outer; o++) {
                            for (int i = 0; i < inner; i++) {
                                for (int j = 0; j < axis; j++) {
                                    int k = (o * axis + j) * inner + i;
                                    if (f(t, x[k]) == expect[o * inner + i]) {
                                        e[k] = gv[o * inner + i];
                                        break;
                                    }
                                }
                            }
                        }
                        close(e, down(dx), 0, t + " max backward " + java.util.Arrays.toString(dims));
                        g.release();
                        dx.release();
                    }
                    out.release();
                }
                xs.release();
            }
            Storage nan = up(t, new double[]{1, Double.NaN, 3, 2});
            Storage m = cuda.allocate(t, 1);
            cuda.reduce(ReduceOp.MAX, nan, m, 1, 4, 1);
            assertTrue(Double.isNaN(down(m)[0]), "MAX propagates NaN");
            nan.release();
            m.release();
        }
    }

    @Test
    void softmaxAndLogSoftmaxWithTheirBackward() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (int[] dims : new int[][]{{8, 300, 1}, {5, 10, 1}, {3, 6, 4}}) {
                int outer = dims[0];
                int axis = dims[1];
                int inner = dims[2];
                double[] x = random(outer * axis * inner);
                x[0] = 1000; // large logits are safe
                double[] g = random(x.length);
                Storage xs = up(t, x);
                Storage gs = up(t, g);
                for (boolean log : new boolean[]{false, true}) {
                    double[] y = new double[x.length];
                    double[] dx = new double[x.length];
                    for (int o = 0; o < outer; o++) {
                        for (int i = 0; i < inner; i++) {
                            double max = Double.NEGATIVE_INFINITY;
                            for (int j = 0; j < axis; j++) {
                                max = Math.max(max, f(t, x[(o * axis + j) * inner + i]));
                            }
                            double sum = 0;
                            for (int j = 0; j < axis; j++) {
                                sum += Math.exp(f(t, x[(o * axis + j) * inner + i]) - max);
                            }
                            double dot = 0;
                            for (int j = 0; j < axis; j++) {
                                int k = (o * axis + j) * inner + i;
                                double sh = f(t, x[k]) - max;
                                y[k] = log ? sh - Math.log(sum) : Math.exp(sh) / sum;
                                dot += log ? f(t, g[k]) : f(t, g[k]) * y[k];
                            }
                            for (int j = 0; j < axis; j++) {
                                int k = (o * axis + j) * inner + i;
                                dx[k] = log ? f(t, g[k]) - Math.exp(y[k]) * dot : y[k] * (f(t, g[k]) - dot);
                            }
                        }
                    }
                    Storage ys = cuda.allocate(t, x.length);
                    cuda.softmax(xs, ys, outer, axis, inner, log);
                    close(y, down(ys), t == DType.FLOAT64 ? 1e-12 : 1e-5, t + " softmax log=" + log);
                    Storage out = cuda.allocate(t, x.length);
                    cuda.softmaxBackward(ys, gs, out, outer, axis, inner, log);
                    close(dx, down(out), t == DType.FLOAT64 ? 1e-10 : 1e-4, t + " softmax backward log=" + log);
                    ys.release();
                    out.release();
                }
                xs.release();
                gs.release();
            }
        }
    }

    @Test
    void matmulWithTransposesBatchesAndSharedMatrices() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            int[][] sizes = {{1, 1, 1}, {65, 70, 33}, {128, 64, 200}, {3, 130, 17}};
            for (int[] mnk : sizes) {
                for (int flags = 0; flags < 4; flags++) {
                    boolean ta = (flags & 1) != 0;
                    boolean tb = (flags & 2) != 0;
                    int m = mnk[0];
                    int n = mnk[1];
                    int k = mnk[2];
                    int batch = 3;
                    double[] a = random(batch * m * k);
                    double[] b = random(k * n); // shared across the batch (stride 0)
                    MatmulShape s = new MatmulShape(batch, m, n, k, ta, tb, (long) m * k, 0);
                    Storage as = up(t, a);
                    Storage bs = up(t, b);
                    Storage cs = cuda.allocate(t, (long) batch * m * n);
                    cuda.matmul(as, bs, cs, s);
                    double[] expect = new double[batch * m * n];
                    for (int z = 0; z < batch; z++) {
                        for (int i = 0; i < m; i++) {
                            for (int j = 0; j < n; j++) {
                                double acc = 0;
                                for (int p = 0; p < k; p++) {
                                    double av = ta ? a[z * m * k + p * m + i] : a[z * m * k + i * k + p];
                                    double bv = tb ? b[j * k + p] : b[p * n + j];
                                    acc += f(t, av) * f(t, bv);
                                }
                                expect[(z * m + i) * n + j] = acc;
                            }
                        }
                    }
                    close(expect, down(cs), t == DType.FLOAT64 ? 1e-11 : 1e-4,
                            t + " matmul " + java.util.Arrays.toString(mnk) + " ta=" + ta + " tb=" + tb);
                    as.release();
                    bs.release();
                    cs.release();
                }
            }
            Storage a = cuda.allocate(t, 0);
            Storage c = up(t, new double[]{5, 5, 5, 5});
            cuda.matmul(a, a, c, new MatmulShape(1, 2, 2, 0, false, false, 0, 0));
            close(new double[4], down(c), 0, "k = 0 gives zeros");
            a.release();
            c.release();
        }
    }

    @Test
    void autogradThroughTheBackendPassesGradCheck() {
        Backends.Scope scope = Backends.use(cuda);
        try {
            Tensor x = Tensor.randn(DType.FLOAT64, 1, 4, 5);
            Tensor w = Tensor.randn(DType.FLOAT64, 2, 5, 3);
            GradCheck.Result r = GradCheck.check(in -> in[0].matmul(in[1]).tanh().logSoftmax(1).sum(), x, w);
            assertTrue(r.passed(), r.report());
            assertEquals("cuda", x.backend().name());
        } finally {
            scope.close();
        }
    }

    /** Far above PinnedStaging's 256 KiB threshold and not a whole number of its 4 MiB chunks. */
    private static final int STAGED = 10_000_000 + 7;

    @Test
    void largeCopiesGoThroughPinnedStagingExactlyAndConvertBothWays() {
        CudaBackend b = (CudaBackend) cuda;
        PinnedStaging.Stats before = b.transferStats();
        double[] v = random(STAGED);
        double[] expect = v.clone();
        Storage d = cuda.upload(v);
        java.util.Arrays.fill(v, 0.0); // once upload returns the array is the caller's again
        double[] back = new double[STAGED];
        cuda.download(d, back);
        assertArrayEquals(expect, back, "staged FLOAT64 round trip");
        float[] narrow = new float[STAGED];
        cuda.download(d, narrow);
        assertArrayEquals(toFloat(expect), narrow, "FLOAT64 storage into float[]");
        float[] f = toFloat(expect);
        Storage fs = cuda.upload(f);
        float[] fBack = new float[STAGED];
        cuda.download(fs, fBack);
        assertArrayEquals(f, fBack, "staged FLOAT32 round trip");
        double[] wide = new double[STAGED];
        cuda.download(fs, wide);
        assertArrayEquals(toDoubles(f), wide, "FLOAT32 storage into double[]");
        PinnedStaging.Stats after = b.transferStats();
        assertEquals(before.stagedCopies() + 6, after.stagedCopies(), "all six copies staged: " + before + " -> " + after);
        assertEquals(before.stagedBytes() + 3L * STAGED * Double.BYTES + 3L * STAGED * Float.BYTES, after.stagedBytes(),
                "staged bytes: " + before + " -> " + after);
        d.release();
        fs.release();
    }

    @Test
    void kernelsQueuedAfterStagedUploadsSeeAllOfThem() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            double[] v = new double[STAGED];
            double absSum = 0;
            double sum = 0;
            for (int i = 0; i < STAGED; i++) {
                v[i] = rnd.nextInt(17) - 8; // small integers: doubling is exact in both dtypes
                absSum += Math.abs(v[i]);
                sum += v[i];
            }
            Storage x = up(t, v);
            // the second upload reuses the pinned buffers while the first one's last chunks may still be copying
            Storage y = up(t, v);
            Storage out = cuda.allocate(t, STAGED);
            cuda.binary(BinaryOp.ADD, x, new long[]{1}, y, new long[]{1}, out, new int[]{STAGED});
            double[] got = down(out);
            for (int i = 0; i < STAGED; i++) {
                if (got[i] != 2 * v[i]) {
                    assertEquals(2 * v[i], got[i], t + " x + y at " + i + " after two staged uploads");
                }
            }
            // a kernel reading the whole staged upload, its one-element result downloaded directly
            Storage total = cuda.allocate(t, 1);
            cuda.reduce(ReduceOp.SUM, x, total, 1, STAGED, 1);
            assertEquals(sum, down(total)[0], t == DType.FLOAT64 ? 0 : 1e-6 * absSum, t + " sum of a staged upload");
            for (Storage s : new Storage[]{x, y, out, total}) {
                s.release();
            }
        }
    }

    /**
     * Many small uploads through the pinned ring (more than its 8 buffers, so buffers are reused),
     * each read by a kernel queued after it, with the caller's array overwritten at once: every
     * kernel sees exactly what was uploaded.
     */
    @Test
    void kernelsQueuedAfterSmallUploadsSeeAllOfThem() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            int rounds = 20;
            Storage[] sums = new Storage[rounds];
            double[] expected = new double[rounds];
            double[] v = new double[300]; // 1.2 or 2.4 KB: under the staging threshold
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < v.length; i++) {
                    v[i] = rnd.nextInt(9) - 4;
                }
                expected[r] = java.util.Arrays.stream(v).sum();
                Storage x = up(t, v);
                java.util.Arrays.fill(v, 1000); // the upload must have taken its copy already
                sums[r] = cuda.allocate(t, 1);
                cuda.reduce(ReduceOp.SUM, x, sums[r], 1, v.length, 1);
                x.release();
            }
            for (int r = 0; r < rounds; r++) {
                assertEquals(expected[r], down(sums[r])[0], t + " round " + r);
                sums[r].release();
            }
        }
    }

    /**
     * The fused kernels of the training step against the compositions they replace, bit for bit:
     * the mean cross-entropy (one warp's sum and a block's over two chunks, a thread per row and a
     * warp per row) and its gradient, dropout against the cpu backend's mask, and matmulBias on the
     * 64-tile GEMM whole and split-K. Here so that compute-sanitizer (memcheck, racecheck: the mean
     * kernel shares memory across its block) runs them.
     */
    @Test
    void fusedKernelsGiveTheirCompositionsBits() {
        CudaBackend b = (CudaBackend) cuda;
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (int[] rc : new int[][] {{128, 10}, {5000, 1}, {4096, 2}, {60, 100}}) {
                int rows = rc[0];
                int classes = rc[1];
                double[] x = random(rows * classes);
                int[] labels = new int[rows];
                for (int r = 0; r < rows; r++) {
                    labels[r] = rnd.nextInt(classes);
                    if (r % 3 == 0) {
                        x[r * classes + labels[r]] = -Math.pow(10, r % 17); // losses of every size: the order shows
                    }
                }
                Storage logits = up(t, x);
                Storage fused = cuda.allocate(t, 1);
                cuda.crossEntropyMean(logits, labels, fused, rows, classes);
                Storage perRow = cuda.allocate(t, rows);
                Storage sum = cuda.allocate(t, 1);
                Storage composed = cuda.allocate(t, 1);
                cuda.crossEntropy(logits, labels, perRow, rows, classes);
                cuda.reduce(ReduceOp.SUM, perRow, sum, 1, rows, 1);
                cuda.unary(UnaryOp.MUL_SCALAR, 1.0 / rows, sum, composed);
                String what = t + " " + rows + "x" + classes;
                assertEquals(Double.doubleToLongBits(down(composed)[0]), Double.doubleToLongBits(down(fused)[0]), what + " mean");

                Storage g = up(t, new double[] {0.7});
                Storage fusedGrad = cuda.allocate(t, (long) rows * classes);
                cuda.crossEntropyMeanBackward(logits, labels, g, fusedGrad, rows, classes);
                Storage scaled = cuda.allocate(t, 1);
                Storage perRowGrad = cuda.allocate(t, rows);
                Storage composedGrad = cuda.allocate(t, (long) rows * classes);
                cuda.unaryBackward(UnaryOp.MUL_SCALAR, 1.0 / rows, g, g, g, scaled);
                cuda.stridedCopy(scaled, new long[] {0}, perRowGrad, new int[] {rows});
                cuda.crossEntropyBackward(logits, labels, perRowGrad, composedGrad, rows, classes);
                org.junit.jupiter.api.Assertions.assertArrayEquals(down(composedGrad), down(fusedGrad), what + " gradient");
                for (Storage s : new Storage[] {logits, fused, perRow, sum, composed, g, fusedGrad, scaled, perRowGrad, composedGrad}) {
                    s.release();
                }
            }

            double[] v = random(10_001);
            Storage in = up(t, v);
            Storage out = cuda.allocate(t, v.length);
            cuda.dropout(77, 0.3, in, out);
            org.junit.jupiter.api.Assertions.assertArrayEquals(dropoutReference(t, v, 77, 0.3), down(out),
                    t + " dropout: CounterStream's mask, one multiply in the dtype");
            in.release();
            out.release();

            // 64-tile GEMMs (thin products; f64 always): whole k, then a long k that GemmPlan splits
            for (int[] mnk : new int[][] {{70, 10, 33}, {16, 24, 4096}}) {
                int m = mnk[0], n = mnk[1], k = mnk[2];
                MatmulShape shape = new MatmulShape(1, m, n, k, false, false, 0, 0);
                Storage a = up(t, random(m * k));
                Storage w = up(t, random(k * n));
                Storage bias = up(t, random(n));
                Storage withBias = cuda.allocate(t, (long) m * n);
                Storage product = cuda.allocate(t, (long) m * n);
                b.matmulBias(a, w, bias, withBias, shape);
                cuda.matmul(a, w, product, shape);
                cuda.binary(BinaryOp.ADD, product, new long[] {n, 1}, bias, new long[] {0, 1}, product, new int[] {m, n});
                org.junit.jupiter.api.Assertions.assertArrayEquals(down(product), down(withBias), t + " matmulBias " + m + "x" + n + "x" + k);
                for (Storage s : new Storage[] {a, w, bias, withBias, product}) {
                    s.release();
                }
            }
        }
    }

    /** Dropout as the SPI defines it: x * (uniform(seed, i) >= p ? (dtype) 1/(1-p) : 0), one multiply in the dtype. */
    static double[] dropoutReference(DType t, double[] x, long seed, double p) {
        double scale = 1.0 / (1.0 - p);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            boolean kept = io.grad4j.backend.CounterStream.uniform(seed, i) >= p;
            out[i] = t == DType.FLOAT64 ? x[i] * (kept ? scale : 0.0) : (float) x[i] * (kept ? (float) scale : 0f);
        }
        return out;
    }

    @Test
    void allocatorReusesReleasedBlocks() {
        CudaBackend b = (CudaBackend) cuda;
        Storage s = b.allocate(DType.FLOAT32, 12345);
        s.release();
        long hits = b.memoryStats().cacheHits();
        Storage again = b.allocate(DType.FLOAT32, 12000);
        assertEquals(hits + 1, b.memoryStats().cacheHits());
        again.release();
        assertTrue(b.memoryStats().cachedBytes() > 0);
    }

    @Test
    void kernelProfileCountsEveryLaunchOfEachKernel() {
        CudaBackend b = (CudaBackend) cuda;
        Storage x = b.upload(toFloat(random(100_000)));
        Storage y = b.allocate(DType.FLOAT32, 100_000);
        b.profileKernels(true);
        try {
            for (int i = 0; i < 5; i++) {
                b.fill(y, i);
                b.axpby(0.5, x, 2.0, y);
            }
            b.unary(UnaryOp.TANH, 0, x, y);
            String table = b.kernelProfile();
            assertTrue(table.contains("fill_f32") && table.contains("axpby_f32") && table.contains("unary_f32"), table);
            assertTrue(table.lines().anyMatch(l -> l.contains("axpby_f32") && l.contains(" 5 launches")), table);
            assertTrue(table.lines().anyMatch(l -> l.contains("total") && l.contains(" 11 launches")), table);
            assertEquals(KernelProfile.format(java.util.List.of()), b.kernelProfile(), "a report starts the next period");
        } finally {
            b.profileKernels(false);
            x.release();
            y.release();
        }
        assertEquals("", b.kernelProfile(), "profiling off: no report");
    }
}
