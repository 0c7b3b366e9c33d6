package io.grad4j.cuda;

import io.grad4j.DType;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.MatmulShape;
import io.grad4j.backend.Storage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The builtin GEMM kernels on a GPU, one shape per code path GemmPlan can pick: 128-tile FP32
 * (interior and edge tiles, vector and scalar loads), 64-tile thin products, split-K, batch stride
 * 0, all four transpose combinations, TF32 (within TF32's rounding), FP64; plus the row-broadcast
 * binary kernel. References are plain double loops written here.
 */
@RequiresGpu
class CudaGemmGpuTest {
    /** For naming the plan in messages; the split shapes below split on any GPU with 8 or more SMs. */
    private static final int H100_SMS = 132;
    private static CudaBackend fp32;
    private static CudaBackend tf32;
    /** cuBLAS (JCublas2 or the installed library called directly); null with the reason below when it did not load. */
    private static CudaBackend cublas;
    private static IllegalStateException cublasFailure;
    private final Random rnd = new Random(7);

    @BeforeAll
    static void backends() {
        fp32 = CudaBackend.create(CudaProbe.result(), GemmChoice.BUILTIN);
        String before = System.getProperty(GemmPlan.TF32_PROPERTY);
        System.setProperty(GemmPlan.TF32_PROPERTY, "true");
        try {
            tf32 = CudaBackend.create(CudaProbe.result(), GemmChoice.BUILTIN);
        } finally {
            if (before == null) {
                System.clearProperty(GemmPlan.TF32_PROPERTY);
            } else {
                System.setProperty(GemmPlan.TF32_PROPERTY, before);
            }
        }
        try {
            cublas = CudaBackend.create(CudaProbe.result(), GemmChoice.CUBLAS);
            System.out.println(cublas.description());
        } catch (IllegalStateException e) {
            cublasFailure = e;
            System.out.println("cuBLAS: " + e.getMessage());
        }
        System.out.println(fp32.description());
        System.out.println(tf32.description());
    }

    private double[] random(long n) {
        double[] v = new double[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = rnd.nextGaussian();
        }
        return v;
    }

    /** op(A) @ op(B) for every batch entry, in double. */
    private static double[] reference(MatmulShape s, double[] a, double[] b) {
        double[] c = new double[s.batch() * s.m() * s.n()];
        for (int q = 0; q < s.batch(); q++) {
            for (int i = 0; i < s.m(); i++) {
                for (int j = 0; j < s.n(); j++) {
                    double sum = 0;
                    for (int kk = 0; kk < s.k(); kk++) {
                        double av = s.transposeA() ? a[(int) (q * s.batchStrideA() + (long) kk * s.lda() + i)]
                                : a[(int) (q * s.batchStrideA() + (long) i * s.lda() + kk)];
                        double bv = s.transposeB() ? b[(int) (q * s.batchStrideB() + (long) j * s.ldb() + kk)]
                                : b[(int) (q * s.batchStrideB() + (long) kk * s.ldb() + j)];
                        sum += av * bv;
                    }
                    c[(q * s.m() + i) * s.n() + j] = sum;
                }
            }
        }
        return c;
    }

    private static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    /** Runs s on the backend in dtype t and compares with the reference; tolerance per unit of sqrt(k). */
    private void check(CudaBackend be, DType t, MatmulShape s, boolean shareA, double tolPerSqrtK) {
        long aLen = shareA ? (long) s.m() * s.k() : (long) s.batch() * s.m() * s.k();
        double[] a = random(aLen);
        double[] b = random((long) s.batch() * s.k() * s.n());
        MatmulShape shape = new MatmulShape(s.batch(), s.m(), s.n(), s.k(), s.transposeA(), s.transposeB(),
                shareA ? 0 : (long) s.m() * s.k(), (long) s.k() * s.n());
        Storage as = t == DType.FLOAT32 ? be.upload(toFloat(a)) : be.upload(a);
        Storage bs = t == DType.FLOAT32 ? be.upload(toFloat(b)) : be.upload(b);
        Storage cs = be.allocate(t, (long) s.batch() * s.m() * s.n());
        try {
            be.matmul(as, bs, cs, shape);
            double[] got = new double[(int) cs.length()];
            be.download(cs, got);
            double[] want = reference(shape, t == DType.FLOAT32 ? floatRounded(a) : a, t == DType.FLOAT32 ? floatRounded(b) : b);
            double tol = tolPerSqrtK * Math.sqrt(s.k());
            String plan = be == cublas ? be.gemmEngine() : GemmPlan.choose(shape, t == DType.FLOAT32, be == tf32, be.multiprocessors()).toString();
            for (int i = 0; i < want.length; i++) {
                double err = Math.abs(got[i] - want[i]);
                if (!(err <= tol)) {
                    throw new AssertionError(t + " " + shape + " (" + plan + "): element " + i + " expected " + want[i]
                            + ", got " + got[i] + " (tolerance " + tol + ")");
                }
            }
        } finally {
            as.release();
            bs.release();
            cs.release();
        }
    }

    private static double[] floatRounded(double[] v) {
        double[] r = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = (float) v[i];
        }
        return r;
    }

    private static MatmulShape shape(int batch, int m, int n, int k, boolean ta, boolean tb) {
        return new MatmulShape(batch, m, n, k, ta, tb, 0, 0);
    }

    @Test
    void bigTilesEveryLayoutWithEdgesAndOddLeadingDimensions() {
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                // large enough for the 128 tiles on 132 SMs (GemmPlan: 128 tiles only where they fill the GPU)
                check(fp32, DType.FLOAT32, expectKernel("gemm128_f32", shape(1, 1536, 1408, 72, ta, tb)), false, 1e-5); // whole tiles, vector loads
                check(fp32, DType.FLOAT32, expectKernel("gemm128_f32", shape(1, 1501, 1399, 77, ta, tb)), false, 1e-5); // edges, scalar loads
                // smaller: the 64 tiles
                check(fp32, DType.FLOAT32, expectKernel("gemm_f32", shape(1, 300, 260, 72, ta, tb)), false, 1e-5);
                check(fp32, DType.FLOAT32, expectKernel("gemm_f32", shape(1, 257, 131, 77, ta, tb)), false, 1e-5);
            }
        }
    }

    /** s itself, after checking that GemmPlan picks {@code kernel} for it on this GPU (checked where it has 132 SMs, as H100 and H200). */
    private static MatmulShape expectKernel(String kernel, MatmulShape s) {
        GemmPlan p = GemmPlan.choose(s, true, false, fp32.multiprocessors());
        if (fp32.multiprocessors() == H100_SMS) {
            assertTrue(p.kernel().equals(kernel), "expected " + kernel + " for " + s + ", GemmPlan chose " + p);
        }
        return s;
    }

    @Test
    void splitKSumsItsSlicesEveryLayout() {
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                MatmulShape s = expectKernel("gemm_f32", shape(1, 200, 130, 4100, ta, tb));
                assertTrue(GemmPlan.choose(s, true, false, fp32.multiprocessors()).splits() > 1, "expected a split plan");
                check(fp32, DType.FLOAT32, s, false, 1e-5);
                MatmulShape big = expectKernel("gemm128_f32", shape(1, 390, 385, 4100, ta, tb));
                assertTrue(GemmPlan.choose(big, true, false, fp32.multiprocessors()).splits() > 1, "expected a split plan");
                check(fp32, DType.FLOAT32, big, false, 1e-5);
                check(fp32, DType.FLOAT64, shape(1, 70, 66, 3000, ta, tb), false, 1e-12);
            }
        }
    }

    @Test
    void thinProductsBatchesAndASharedMatrix() {
        check(fp32, DType.FLOAT32, shape(1, 1000, 10, 256, false, false), false, 1e-5);
        check(fp32, DType.FLOAT32, shape(1, 10, 1000, 256, true, true), false, 1e-5);
        check(fp32, DType.FLOAT32, shape(5, 130, 140, 150, false, true), true, 1e-5);
        check(fp32, DType.FLOAT32, shape(3, 33, 17, 900, true, false), false, 1e-5);
        check(fp32, DType.FLOAT64, shape(4, 65, 129, 31, false, false), true, 1e-12);
    }

    @Test
    void tf32IsWithinTf32Rounding() {
        // inputs rounded to 10 mantissa bits: each product is off by about 2^-10 relative
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                check(tf32, DType.FLOAT32, shape(1, 300, 260, 72, ta, tb), false, 5e-3);
                check(tf32, DType.FLOAT32, shape(1, 200, 130, 4100, ta, tb), false, 5e-3);
                check(tf32, DType.FLOAT32, shape(2, 19, 23, 29, ta, tb), true, 5e-3);
            }
        }
        check(tf32, DType.FLOAT64, shape(1, 70, 66, 300, false, false), false, 1e-12); // FP64 is never TF32
    }

    @Test
    void cublasEveryLayoutBatchedAndShared() {
        // skipped only where no libcublas exists at all; one that is found but fails is a failure
        assumeTrue(cublasFailure == null || !cublasFailure.getMessage().contains("no cuBLAS library could be loaded"),
                () -> "no cuBLAS here: " + cublasFailure.getMessage());
        if (cublasFailure != null) {
            throw new AssertionError("cuBLAS was found but could not be used", cublasFailure);
        }
        assertTrue(cublas.gemmEngine().startsWith("cuBLAS"), cublas.gemmEngine());
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                check(cublas, DType.FLOAT32, shape(1, 257, 131, 77, ta, tb), false, 1e-5);
                check(cublas, DType.FLOAT32, shape(3, 33, 17, 900, ta, tb), true, 1e-5);
                check(cublas, DType.FLOAT64, shape(2, 65, 129, 31, ta, tb), false, 1e-12);
            }
        }
    }

    @Test
    void rowBroadcastBinaryMatchesTheFormula() {
        int rows = 300;
        int cols = 1027; // not a multiple of 4: rows start unaligned, the scalar path runs too
        double[] a = random((long) rows * cols);
        double[] bias = random(cols);
        double[] scale = random(rows);
        for (DType t : new DType[]{DType.FLOAT32, DType.FLOAT64}) {
            for (int c : new int[]{cols, 1024}) {
                Storage as = t == DType.FLOAT32 ? fp32.upload(toFloat(a)) : fp32.upload(a);
                Storage bs = t == DType.FLOAT32 ? fp32.upload(toFloat(bias)) : fp32.upload(bias);
                Storage ss = t == DType.FLOAT32 ? fp32.upload(toFloat(scale)) : fp32.upload(scale);
                Storage out = fp32.allocate(t, (long) rows * c);
                try {
                    fp32.binary(BinaryOp.ADD, as, new long[]{c, 1}, bs, new long[]{0, 1}, out, new int[]{rows, c});
                    double[] got = new double[rows * c];
                    fp32.download(out, got);
                    for (int i = 0; i < got.length; i++) {
                        double want = t == DType.FLOAT32 ? (float) ((float) a[i] + (float) bias[i % c]) : a[i] + bias[i % c];
                        assertTrue(got[i] == want, t + " bias add [" + i + "]: expected " + want + ", got " + got[i]);
                    }
                    fp32.binary(BinaryOp.MUL, ss, new long[]{1, 0}, as, new long[]{c, 1}, out, new int[]{rows, c});
                    fp32.download(out, got);
                    for (int i = 0; i < got.length; i++) {
                        double want = t == DType.FLOAT32 ? (float) ((float) scale[i / c] * (float) a[i]) : scale[i / c] * a[i];
                        assertTrue(got[i] == want, t + " row scale [" + i + "]: expected " + want + ", got " + got[i]);
                    }
                } finally {
                    as.release();
                    bs.release();
                    ss.release();
                    out.release();
                }
            }
        }
    }
}
