package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.CustomFunction;
import io.grad4j.autograd.GradCheck;
import io.grad4j.autograd.JacobianMode;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Autograd on a backend: gradcheck of every operation (broadcasting and batched matmul included),
 * forward vs reverse vs numeric Jacobians, the textbook identities, fan-out, accumulation, custom
 * functions, and the engine's rules (freed graphs, hooks, anomaly mode, noGrad).
 */
public abstract class AutogradConformanceTest extends BackendTestBase {

    private static Tensor randn(long seed, int... shape) {
        return Tensor.randn(DType.FLOAT64, seed, shape);
    }

    private static Tensor positive(long seed, int... shape) {
        return Tensor.rand(DType.FLOAT64, seed, shape).add(0.5);
    }

    private static void assertGradCheck(String what, Function<Tensor[], Tensor> f, Tensor... inputs) {
        GradCheck.Result r = GradCheck.check(f, inputs);
        assertTrue(r.passed(), what + ": " + r.report());
    }

    // ------------------------------------------------------------------ gradcheck of every op

    @Test
    void elementwiseOpsPassGradCheck() {
        Tensor x = randn(1, 2, 3);
        Tensor p = positive(2, 2, 3);
        double[] v = randn(3, 2, 3).toDoubleArray();
        for (int i = 0; i < v.length; i++) {
            v[i] += Math.copySign(0.3, v[i]); // keep central differences away from the kinks at 0
        }
        Tensor awayFromKinks = Tensor.of(v, 2, 3);
        assertGradCheck("neg", in -> in[0].neg(), x);
        assertGradCheck("exp", in -> in[0].exp(), x);
        assertGradCheck("log", in -> in[0].log(), p);
        assertGradCheck("sqrt", in -> in[0].sqrt(), p);
        assertGradCheck("abs", in -> in[0].abs(), awayFromKinks);
        assertGradCheck("tanh", in -> in[0].tanh(), x);
        assertGradCheck("sigmoid", in -> in[0].sigmoid(), x);
        assertGradCheck("relu", in -> in[0].relu(), awayFromKinks);
        assertGradCheck("pow 3", in -> in[0].pow(3), x);
        assertGradCheck("pow -0.5", in -> in[0].pow(-0.5), p);
        assertGradCheck("scalar ops", in -> in[0].add(2).sub(1).mul(3).div(4), x);
    }

    @Test
    void broadcastingBinaryOpsPassGradCheck() {
        Random rnd = new Random(11);
        for (int trial = 0; trial < 8; trial++) {
            int[] sa = randomShape(rnd, 3);
            int[] sb = broadcastPartner(rnd, sa);
            if (rnd.nextBoolean()) {
                int[] t = sa;
                sa = sb;
                sb = t;
            }
            Tensor a = randn(100 + trial, sa);
            Tensor b = positive(200 + trial, sb);
            String shapes = Arrays.toString(sa) + " with " + Arrays.toString(sb);
            assertGradCheck("add " + shapes, in -> in[0].add(in[1]), a, b);
            assertGradCheck("sub " + shapes, in -> in[0].sub(in[1]), a, b);
            assertGradCheck("mul " + shapes, in -> in[0].mul(in[1]), a, b);
            assertGradCheck("div " + shapes, in -> in[0].div(in[1]), a, b);
        }
    }

    @Test
    void matmulPassesGradCheckInEveryForm() {
        int[][][] cases = {{{3, 4}, {4, 2}}, {{3, 4}, {4}}, {{4}, {4, 2}}, {{4}, {4}},
                {{2, 3, 4}, {2, 4, 2}}, {{2, 3, 4}, {4, 2}}, {{3, 4}, {2, 4, 2}}};
        long seed = 300;
        for (int[][] c : cases) {
            Tensor a = randn(seed++, c[0]);
            Tensor b = randn(seed++, c[1]);
            assertGradCheck("matmul " + Arrays.toString(c[0]) + " @ " + Arrays.toString(c[1]),
                    in -> in[0].matmul(in[1]), a, b);
        }
    }

    @Test
    void reductionsAndShapeOpsPassGradCheck() {
        Tensor x = randn(20, 2, 3, 4);
        for (int axis = 0; axis < 3; axis++) {
            int ax = axis;
            assertGradCheck("sum axis " + ax, in -> in[0].sum(ax, false), x);
            assertGradCheck("sum keep axis " + ax, in -> in[0].sum(ax, true), x);
            assertGradCheck("mean axis " + ax, in -> in[0].mean(ax, false), x);
            assertGradCheck("max axis " + ax, in -> in[0].max(ax, ax == 1), x);
            assertGradCheck("softmax axis " + ax, in -> in[0].softmax(ax), x);
            assertGradCheck("logSoftmax axis " + ax, in -> in[0].logSoftmax(ax), x);
        }
        assertGradCheck("sum()", in -> in[0].sum(), x);
        assertGradCheck("mean()", in -> in[0].mean(), x);
        assertGradCheck("transpose", in -> in[0].transpose().mul(in[0].transpose()), x);
        assertGradCheck("transpose(0,2)", in -> in[0].transpose(0, 2), x);
        assertGradCheck("reshape", in -> in[0].reshape(4, 6).tanh(), x);
    }

    @Test
    void fusedCrossEntropyPassesGradCheck() {
        Tensor logits = randn(25, 4, 5).mul(3);
        assertGradCheck("crossEntropyPerRow", in -> in[0].crossEntropyPerRow(new int[] {4, 0, 2, 2}), logits);
        assertGradCheck("Losses.crossEntropy", in -> io.grad4j.nn.Losses.crossEntropy(in[0], new int[] {1, 3, 0, 4}), logits);
    }

    @Test
    void aSmallNetworkPassesGradCheck() {
        Tensor x = randn(30, 5, 4);
        Tensor w1 = randn(31, 4, 6);
        Tensor b1 = randn(32, 6);
        Tensor w2 = randn(33, 6, 3);
        assertGradCheck("mlp", in -> in[0].matmul(in[1]).add(in[2]).tanh().matmul(in[3]).logSoftmax(1).mean(),
                x, w1, b1, w2);
    }

    // ------------------------------------------------------------------ modes agree

    @Test
    void forwardReverseAndNumericJacobiansAgree() {
        Tensor x = randn(40, 3, 2);
        Tensor w = randn(41, 2, 4);
        List<Function<Tensor, Tensor>> fs = List.of(
                t -> t.tanh().mul(t).sum(1, false),
                t -> t.matmul(w).softmax(1),
                t -> t.exp().div(t.pow(2).add(1)).logSoftmax(0),
                t -> t.max(0, false).sigmoid(),
                t -> t.transpose().reshape(6).abs().sqrt().add(t.mean()),
                t -> t.reshape(2, 3).mul(3).crossEntropyPerRow(new int[] {2, 0}));
        for (int i = 0; i < fs.size(); i++) {
            Function<Tensor, Tensor> f = fs.get(i);
            double[] rev = Autograd.jacobian(f, x, JacobianMode.REVERSE).toDoubleArray();
            double[] fwd = Autograd.jacobian(f, x, JacobianMode.FORWARD).toDoubleArray();
            assertArrayEquals(rev, fwd, 1e-12, "function " + i + ": forward vs reverse Jacobian");
            double[] num = numericJacobian(f, x);
            assertArrayEquals(num, rev, 1e-6, "function " + i + ": numeric vs reverse Jacobian");
        }
    }

    @Test
    void jvpAndVjpAreJacobianProducts() {
        Tensor x = randn(50, 4);
        Tensor v = randn(51, 4);
        Tensor u = randn(52, 3);
        Tensor w = randn(53, 4, 3);
        Function<Tensor, Tensor> f = t -> t.matmul(w).tanh();
        double[] j = Autograd.jacobian(f, x).toDoubleArray(); // [3, 4]
        double[] jv = Autograd.jvp(f, x, v).toDoubleArray();
        double[] ujt = Autograd.vjp(f, x, u).toDoubleArray();
        double[] vv = v.toDoubleArray();
        double[] uu = u.toDoubleArray();
        for (int i = 0; i < 3; i++) {
            double s = 0;
            for (int k = 0; k < 4; k++) {
                s += j[i * 4 + k] * vv[k];
            }
            assertEquals(s, jv[i], 1e-12, "J v");
        }
        for (int k = 0; k < 4; k++) {
            double s = 0;
            for (int i = 0; i < 3; i++) {
                s += uu[i] * j[i * 4 + k];
            }
            assertEquals(s, ujt[k], 1e-12, "u^T J");
        }
    }

    // ------------------------------------------------------------------ the textbook identities

    @Test
    void jacobianOfAffineMapIsWeightAndIdentity() {
        Tensor w = randn(60, 3, 4);
        Tensor x = randn(61, 4);
        Tensor b = randn(62, 3);
        // d(Wx + b)/dx = W
        assertArrayEquals(w.toDoubleArray(), Autograd.jacobian(t -> w.matmul(t).add(b), x).toDoubleArray(), 1e-12);
        // d(Wx + b)/db = I
        double[] eye = new double[9];
        for (int i = 0; i < 3; i++) {
            eye[i * 4] = 1;
        }
        assertArrayEquals(eye, Autograd.jacobian(t -> w.matmul(x).add(t), b).toDoubleArray(), 1e-12);
    }

    @Test
    void gradientOfInnerProductIsTheOtherVector() {
        Tensor h = randn(63, 5);
        Tensor u = randn(64, 5).requiresGrad(true);
        u.matmul(h).backward(); // d(u^T h)/du = h^T
        assertArrayEquals(h.toDoubleArray(), u.grad().toDoubleArray(), 1e-12);
        assertArrayEquals(new int[] {5}, u.grad().shape());
    }

    @Test
    void jacobianOfElementwiseFunctionIsDiagonal() {
        Tensor z = randn(65, 4);
        double[] jac = Autograd.jacobian(Tensor::tanh, z).toDoubleArray();
        double[] zv = z.toDoubleArray();
        for (int i = 0; i < 4; i++) {
            for (int k = 0; k < 4; k++) {
                double t = Math.tanh(zv[i]);
                assertEquals(i == k ? 1 - t * t : 0.0, jac[i * 4 + k], 1e-12, "J[" + i + "," + k + "]");
            }
        }
    }

    // ------------------------------------------------------------------ the engine's rules

    @Test
    void fanOutSumsWhatComesBack() {
        Tensor x = Tensor.of(new double[] {1.5, -2}, 2).requiresGrad(true);
        x.mul(x).add(x).sum().backward(); // d(x^2 + x) = 2x + 1
        assertArrayEquals(new double[] {4, -3}, x.grad().toDoubleArray(), 1e-12);
    }

    @Test
    void gradientsAccumulateAcrossBackwardCallsUntilZeroed() {
        Tensor x = Tensor.of(new double[] {1, 2, 3}, 3).requiresGrad(true);
        x.pow(2).sum().backward();
        x.pow(2).sum().backward();
        assertArrayEquals(new double[] {4, 8, 12}, x.grad().toDoubleArray(), 1e-12);
        Tensor g = x.grad();
        x.zeroGrad();
        assertArrayEquals(new double[3], g.toDoubleArray());
        x.mul(3).sum().backward();
        assertArrayEquals(new double[] {3, 3, 3}, x.grad().toDoubleArray(), 1e-12);
    }

    /** zeroGrad defers its fill (StorageRef.zeroLater): whoever reads the gradient still sees zeros. */
    @Test
    void zeroedGradientsReadAsZerosThroughEveryReference() {
        Tensor w = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2).requiresGrad(true);
        Tensor unused = Tensor.of(new double[] {5, 6}, 2).requiresGrad(true);
        w.mul(w).sum().add(unused.sum()).backward();
        Tensor g = w.grad();
        Tensor flat = g.reshape(4);       // a view taken before zeroGrad shares the buffer
        w.zeroGrad();
        unused.zeroGrad();
        assertArrayEquals(new double[4], flat.toDoubleArray());
        assertArrayEquals(new double[4], w.grad().toDoubleArray());
        // the next backward reaches w but not `unused`: w's gradient is the new one alone, and
        // `unused` keeps reading zeros, also inside an expression
        w.mul(3).sum().backward();
        assertArrayEquals(new double[] {3, 3, 3, 3}, g.toDoubleArray(), 1e-12);
        assertArrayEquals(new double[] {3, 3, 3, 3}, flat.toDoubleArray(), 1e-12);
        assertArrayEquals(new double[] {1, 1}, unused.grad().add(1.0).toDoubleArray(), 1e-12);
        // zeroGrad, then two backward calls: the first overwrites the deferred zeros, the second adds
        w.zeroGrad();
        w.sum().backward();
        w.sum().backward();
        assertArrayEquals(new double[] {2, 2, 2, 2}, flat.toDoubleArray(), 1e-12);
        // a backward that fails before its gradient lands leaves the zeros owed, not the old values
        w.zeroGrad();
        Tensor.HookHandle wrongDtype = w.registerHook(gw -> gw.to(DType.FLOAT32));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> w.mul(5).sum().backward());
        assertTrue(e.getMessage().contains("FLOAT32 gradient") && e.getMessage().contains("FLOAT64 tensor"), e.getMessage());
        wrongDtype.remove();
        assertArrayEquals(new double[4], flat.toDoubleArray());
        // a backward pass that fails part-way still leaves the leaves it reached with their new
        // gradients (their copies are issued together when the pass ends, failed or not)
        Tensor other = Tensor.of(new double[] {1, 1}, 2).requiresGrad(true);
        w.zeroGrad();
        CustomFunction failing = new CustomFunction() {
            @Override
            public Tensor forward(Tensor... in) {
                return in[0].mul(1.0);
            }

            @Override
            public Tensor[] backward(Tensor[] in, Tensor out, Tensor g) {
                throw new IllegalStateException("this backward fails on purpose");
            }
        };
        Tensor failingSum = Autograd.apply(failing, other).sum().add(w.mul(7).sum());
        IllegalStateException failed = assertThrows(IllegalStateException.class, failingSum::backward);
        assertTrue(failed.getMessage().contains("fails on purpose"), failed.getMessage());
        assertArrayEquals(new double[] {7, 7, 7, 7}, flat.toDoubleArray(), 0.0, "w was reached before the failure");
        // a gradient closed while its zeros were pending is simply gone
        w.zeroGrad();
        g.close();
        w.sum().backward();
        assertArrayEquals(new double[] {1, 1, 1, 1}, w.grad().toDoubleArray(), 1e-12);
    }

    /**
     * The deferred zeros stop being owed only once the copy over them has been issued: a backend
     * refusing the copies leaves the gradient reading zeros, not the previous step's values; and
     * when the pass itself failed too, the copy failure is attached to the pass's exception.
     */
    @Test
    void aFailedGradientCopyLeavesTheZerosOwed() {
        Backend inner = backend();
        boolean[] refuse = {false};
        Backend refusing = (Backend) java.lang.reflect.Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                    if (refuse[0] && method.getName().equals("copyEach")) {
                        throw new IllegalStateException("copyEach refused");
                    }
                    try {
                        return method.invoke(inner, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        try (Backends.Scope ignored = Backends.use(refusing)) {
            Tensor w = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
            w.sum().backward();
            Tensor g = w.grad();
            w.zeroGrad();
            refuse[0] = true;
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> w.mul(3).sum().backward());
            assertTrue(e.getMessage().contains("copyEach refused"), e.getMessage());
            refuse[0] = false;
            assertArrayEquals(new double[] {0, 0}, g.toDoubleArray(), 0.0, "zeros still owed, not the old [1, 1]");

            w.zeroGrad();
            Tensor other = Tensor.of(new double[] {1}, 1).requiresGrad(true);
            Tensor loss = Autograd.apply(new CustomFunction() {
                @Override
                public Tensor forward(Tensor... in) {
                    return in[0].mul(1.0);
                }

                @Override
                public Tensor[] backward(Tensor[] in, Tensor out, Tensor gradOut) {
                    throw new IllegalStateException("this backward fails on purpose");
                }
            }, other).sum().add(w.mul(7).sum());
            refuse[0] = true;
            IllegalStateException first = assertThrows(IllegalStateException.class, loss::backward);
            refuse[0] = false;
            assertTrue(first.getMessage().contains("fails on purpose"), first.getMessage());
            assertEquals(1, first.getSuppressed().length, "the copy failure rides along");
            assertTrue(first.getSuppressed()[0].getMessage().contains("copyEach refused"));
            assertArrayEquals(new double[] {0, 0}, g.toDoubleArray(), 0.0);
        }
    }

    /** A gradient closed with its zeros still owed owes nothing: a later flush has nothing to write. */
    @Test
    void closingAGradientWithZerosOwedForgetsThem() {
        java.util.Map<String, Integer> calls = new java.util.TreeMap<>();
        boolean[] counting = {false};
        Backend counted = TrainingConformanceTest.counting(backend(), calls, counting);
        try (Backends.Scope ignored = Backends.use(counted)) {
            Tensor w = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
            w.sum().backward();
            w.zeroGrad();
            w.grad().close();
            counting[0] = true;
            io.grad4j.DeferredWrites.flush(counted); // a fill here would write into released memory
            counting[0] = false;
            assertEquals(java.util.Map.of(), calls);
            w.mul(2).sum().backward();
            assertArrayEquals(new double[] {2, 2}, w.grad().toDoubleArray(), 0.0);
        }
    }

    @Test
    void gradientsKeepTheParameterShapeAndDtype() {
        Tensor w = Tensor.randn(DType.FLOAT32, 70, 3, 1).requiresGrad(true);
        Tensor x = Tensor.randn(DType.FLOAT32, 71, 4, 2, 3);
        x.matmul(w).relu().sum().backward();
        assertArrayEquals(new int[] {3, 1}, w.grad().shape());
        assertEquals(DType.FLOAT32, w.grad().dtype());
        // float32 gradients agree with the float64 computation
        Tensor w64 = w.detach().to(DType.FLOAT64).requiresGrad(true);
        x.to(DType.FLOAT64).matmul(w64).relu().sum().backward();
        assertArrayEquals(w64.grad().toDoubleArray(), w.grad().toDoubleArray(), 1e-4);
    }

    @Test
    void autogradGradLeavesDotGradUntouched() {
        Tensor x = Tensor.of(new double[] {2, 3}, 2).requiresGrad(true);
        Tensor[] g = Autograd.grad(x.pow(3).sum(), x);
        assertArrayEquals(new double[] {12, 27}, g[0].toDoubleArray(), 1e-12);
        assertNull(x.grad());
        Tensor y = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        Tensor[] unused = Autograd.grad(x.sum(), y);
        assertArrayEquals(new double[] {0}, unused[0].toDoubleArray());
    }

    @Test
    void secondBackwardThroughAFreedGraphSaysSo() {
        Tensor x = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        Tensor y = x.exp().sum();
        y.backward();
        IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
        assertTrue(e.getMessage().contains("freed"), e.getMessage());
        Tensor z = x.tanh().sum();
        Tensor seed = Tensor.scalar(1.0);
        z.backward(seed, true);
        z.backward(seed, true);
        double[] g = x.grad().toDoubleArray();
        double t = Math.tanh(1);
        assertEquals(Math.exp(1) + 2 * (1 - t * t), g[0], 1e-12);
    }

    @Test
    void hooksSeeAndReplaceGradientsUntilRemoved() {
        Tensor x = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        AtomicInteger calls = new AtomicInteger();
        Tensor.HookHandle h = x.registerHook(g -> {
            calls.incrementAndGet();
            return g.mul(10);
        });
        x.mul(2).sum().backward();
        assertArrayEquals(new double[] {20, 20}, x.grad().toDoubleArray(), 1e-12);
        h.remove();
        x.zeroGrad();
        x.mul(2).sum().backward();
        assertArrayEquals(new double[] {2, 2}, x.grad().toDoubleArray(), 1e-12);
        assertEquals(1, calls.get());
    }

    @Test
    void anomalyModeNamesTheOperationThatProducedNaN() {
        Tensor x = Tensor.of(new double[] {0.0, 1.0}, 2).requiresGrad(true);
        try (NoGrad ignored = Autograd.detectAnomaly()) {
            Tensor y = x.sqrt().sum();
            ArithmeticException e = assertThrows(ArithmeticException.class, y::backward);
            assertTrue(e.getMessage().contains("sqrt"), e.getMessage());
        }
    }

    @Test
    void noGradRecordsNothingAndIsPerThread() throws Exception {
        Tensor x = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        AtomicBoolean otherThreadRecorded = new AtomicBoolean();
        try (NoGrad ignored = Autograd.noGrad()) {
            assertFalse(x.mul(2).requiresGrad());
            var backend = backend();
            Thread t = new Thread(() -> {
                try (Backends.Scope s = Backends.use(backend)) {
                    otherThreadRecorded.set(x.mul(2).requiresGrad());
                }
            });
            t.start();
            t.join();
        }
        assertTrue(otherThreadRecorded.get(), "noGrad on one thread must not affect another");
        assertTrue(x.mul(2).requiresGrad());
        assertThrows(IllegalArgumentException.class, () -> x.mul(2).requiresGrad(true));
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.FLOAT64, 2).sum().backward());
        assertThrows(IllegalArgumentException.class, () -> x.mul(Tensor.ones(DType.FLOAT64, 3)).backward());
    }

    @Test
    void softmaxGradientsOnLargeLogitsStayFinite() {
        Tensor x = Tensor.of(new double[] {1000, 1001, -1000, 5e4}, 1, 4).requiresGrad(true);
        Tensor w = Tensor.of(new double[] {1, 2, 3, 4}, 1, 4);
        x.logSoftmax(1).mul(w).sum().add(x.softmax(1).mul(w).sum()).backward();
        for (double g : x.grad().toDoubleArray()) {
            assertTrue(Double.isFinite(g), Arrays.toString(x.grad().toDoubleArray()));
        }
        Tensor x32 = Tensor.of(new float[] {80, 90, -100}, 3).requiresGrad(true);
        x32.logSoftmax(0).sum().backward();
        for (double g : x32.grad().toDoubleArray()) {
            assertTrue(Double.isFinite(g));
        }
    }

    // ------------------------------------------------------------------ custom functions

    /** y = x^3 with a chosen derivative factor (3 is right). */
    private record Cube(double factor) implements CustomFunction {
        @Override
        public Tensor forward(Tensor... inputs) {
            return inputs[0].pow(3);
        }

        @Override
        public Tensor[] backward(Tensor[] inputs, Tensor output, Tensor gradOutput) {
            return new Tensor[] {gradOutput.mul(inputs[0].pow(2)).mul(factor)};
        }
    }

    @Test
    void customFunctionsJoinTheGraphAndGradCheckCatchesWrongOnes() {
        Tensor x = randn(80, 3);
        assertTrue(GradCheck.check(in -> Autograd.apply(new Cube(3), in[0].mul(0.5)).tanh(), x).passed());
        GradCheck.Result wrong = GradCheck.check(in -> Autograd.apply(new Cube(2.9), in[0]), x);
        assertFalse(wrong.passed(), "a wrong backward must fail gradcheck");
        assertTrue(wrong.report().contains("input 0"), wrong.report());
        assertThrows(IllegalArgumentException.class, () -> GradCheck.check(in -> in[0].exp(), Tensor.zeros(DType.FLOAT32, 2)));
    }

    // ------------------------------------------------------------------ helpers

    private static double[] numericJacobian(Function<Tensor, Tensor> f, Tensor x) {
        double[] base = x.toDoubleArray();
        int[] shape = x.shape();
        double h = 1e-6;
        double[][] cols = new double[base.length][];
        int m = 0;
        for (int j = 0; j < base.length; j++) {
            double[] p = base.clone();
            double[] q = base.clone();
            p[j] += h;
            q[j] -= h;
            double[] fp = f.apply(Tensor.of(p, shape)).toDoubleArray();
            double[] fq = f.apply(Tensor.of(q, shape)).toDoubleArray();
            m = fp.length;
            cols[j] = new double[m];
            for (int i = 0; i < m; i++) {
                cols[j][i] = (fp[i] - fq[i]) / (2 * h);
            }
        }
        double[] jac = new double[m * base.length];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < base.length; j++) {
                jac[i * base.length + j] = cols[j][i];
            }
        }
        return jac;
    }
}
