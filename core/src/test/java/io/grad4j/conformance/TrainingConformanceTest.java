package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.GradCheck;
import io.grad4j.TensorScope;
import io.grad4j.autograd.Autograd;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;
import io.grad4j.nn.Tanh;
import io.grad4j.nn.Dropout;
import io.grad4j.optim.Adam;
import io.grad4j.optim.AdamW;
import io.grad4j.optim.CosineAnnealingLR;
import io.grad4j.optim.LearningRateSchedule;
import io.grad4j.optim.Optimizer;
import io.grad4j.optim.SGD;
import io.grad4j.optim.StepLR;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Layers, losses, optimizers, schedules and dropout on a backend, against hand-computed values. */
public abstract class TrainingConformanceTest extends BackendTestBase {

    @Test
    void plainSgdStepIsThetaMinusLrTimesGrad() {
        Tensor p = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        SGD sgd = new SGD(List.of(p), 0.1);
        p.mul(p).sum().backward(); // grad = 2p
        sgd.step();
        assertArrayEquals(new double[] {0.8, 1.6}, p.toDoubleArray(), 1e-12);
    }

    /**
     * What one SGD step of a two-hidden-layer MLP asks of the backend, counted through a proxy:
     * on a GPU each call is a kernel launch, and small batches are launch-bound. Forward: 3
     * matmuls with their bias added as they are written, 2 ReLUs, the mean cross-entropy (one
     * fused call); backward: the seed, the mean cross-entropy's gradient (one fused call), 5
     * matmuls, 3 bias sums, 2 ReLU derivatives, the 6 gradients copied in one call; the 6 updates
     * in one call: 20 calls. The gradients of a zeroed
     * step are copied, not filled with zeros and then added to (zeroGrad defers its fill; the
     * copy overwrites it).
     */
    @Test
    void aTrainingStepMakesNoBackendCallsBeyondItsOperations() {
        Map<String, Integer> calls = new java.util.TreeMap<>();
        boolean[] counting = {false};
        try (Backends.Scope ignored = Backends.use(counting(backend(), calls, counting))) {
            Sequential model = new Sequential(new Linear(8, 16, 1), new ReLU(), new Linear(16, 12, 2), new ReLU(),
                    new Linear(12, 3, 3));
            SGD sgd = new SGD(model.parameters(), 0.1);
            Tensor x = Tensor.rand(DType.FLOAT32, 4, 5, 8);
            int[] labels = {0, 2, 1, 1, 0};
            for (int step = 0; step < 2; step++) {
                counting[0] = step == 1; // the second step: gradients exist and are zeroed, as in training
                try (TensorScope ignoredStep = TensorScope.open()) {
                    sgd.zeroGrad();
                    Tensor loss = Losses.crossEntropy(model.forward(x), labels);
                    loss.backward();
                    sgd.step();
                }
            }
        }
        assertEquals(Map.ofEntries(
                Map.entry("matmulBias", 3), Map.entry("matmul", 5), Map.entry("unary RELU", 2),
                Map.entry("crossEntropyMean", 1), Map.entry("reduce SUM", 3), Map.entry("fill", 1),
                Map.entry("crossEntropyMeanBackward", 1), Map.entry("unaryBackward RELU", 2), Map.entry("copyEach", 1),
                Map.entry("axpbyEach", 1)), calls);
    }

    /**
     * {@code inner} behind a proxy that withholds its overrides of the methods {@code named}
     * picks: those run the {@link Backend} interface's own default (a composition of the other
     * methods, which still reach {@code inner}). How the conformance tests check an SPI default
     * against a backend's fused override.
     */
    static Backend withSpiDefaults(Backend inner, java.util.function.Predicate<String> named) {
        return (Backend) java.lang.reflect.Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                    if (named.test(method.getName())) {
                        return java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args);
                    }
                    try {
                        return method.invoke(inner, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    /**
     * {@code inner} behind a proxy that counts the work calls (void methods: not queries such as
     * canDeferWrites, not allocation) by name and, for op families, op, while {@code on[0]}.
     */
    static Backend counting(Backend inner, Map<String, Integer> calls, boolean[] on) {
        return counting(inner, calls, on, null);
    }

    /** The same, answering canDeferWrites from {@code canDefer} instead of the inner backend when it is not null. */
    static Backend counting(Backend inner, Map<String, Integer> calls, boolean[] on,
                            java.util.function.BooleanSupplier canDefer) {
        return (Backend) java.lang.reflect.Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                    if (canDefer != null && method.getName().equals("canDeferWrites")) {
                        return canDefer.getAsBoolean();
                    }
                    if (on[0] && method.getDeclaringClass() == Backend.class && method.getReturnType() == void.class) {
                        String key = method.getName();
                        if (args != null && args.length > 0 && args[0] instanceof Enum<?> op) {
                            key += " " + op.name();
                        }
                        calls.merge(key, 1, Integer::sum);
                    }
                    try {
                        return method.invoke(inner, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    /**
     * SGD with momentum and neither weight decay nor Nesterov updates all velocities, then all
     * parameters, each in one multi-tensor call; the values are PyTorch's (v starts as g).
     */
    @Test
    void momentumWithoutWeightDecayFollowsPyTorchInTwoCallsPerStep() {
        Map<String, Integer> calls = new java.util.TreeMap<>();
        boolean[] counting = {false};
        try (Backends.Scope ignored = Backends.use(counting(backend(), calls, counting))) {
            Tensor p = Tensor.of(new double[] {1}, 1).requiresGrad(true);
            Tensor q = Tensor.of(new double[] {2, -1}, 2).requiresGrad(true);
            Tensor unused = Tensor.of(new double[] {5}, 1).requiresGrad(true);
            Tensor late = Tensor.of(new double[] {3}, 1).requiresGrad(true); // first gradient on step 2
            SGD sgd = new SGD(List.of(p, q, unused, late), 0.1, 0.9, 0.0);
            p.mul(p).sum().add(q.mul(q).sum()).backward(); // grads 2p, 2q
            sgd.step(); // v = g; p = 1 - 0.2 = 0.8; q = (2 - 0.4, -1 + 0.2)
            assertArrayEquals(new double[] {0.8}, p.toDoubleArray(), 1e-12);
            assertArrayEquals(new double[] {1.6, -0.8}, q.toDoubleArray(), 1e-12);
            sgd.zeroGrad();
            p.mul(p).sum().add(q.mul(q).sum()).add(late.sum()).backward();
            counting[0] = true;
            sgd.step(); // g = 1.6; v = 0.9 * 2 + 1.6 = 3.4; p = 0.8 - 0.34
            counting[0] = false;
            assertArrayEquals(new double[] {3 - 0.1}, late.toDoubleArray(), 1e-12, "its velocity starts as its gradient");
            assertEquals(0.46, p.toDoubleArray()[0], 1e-12);
            assertArrayEquals(new double[] {1.6 - 0.1 * (0.9 * 4 + 3.2), -0.8 - 0.1 * (0.9 * -2 - 1.6)}, q.toDoubleArray(), 1e-12);
            assertArrayEquals(new double[] {5}, unused.toDoubleArray(), 0.0, "no gradient: not stepped");
            // two multi-tensor calls, and the late parameter's velocity made from its gradient
            assertEquals(Map.of("axpbyEach", 2, "unary MUL_SCALAR", 1), calls);
        }
    }

    /**
     * Where a backend records work for replay (CUDA graphs) it refuses deferral and flushes what
     * is owed before recording: the gradients are then zero-filled and added to, as without
     * deferral, so a recorded step repeats every write eager execution made.
     */
    @Test
    void deferredZerosAreWrittenAtOnceWhereTheBackendRecordsWork() {
        Map<String, Integer> calls = new java.util.TreeMap<>();
        boolean[] recording = {false};
        Backend counted = counting(backend(), calls, new boolean[] {true}, () -> !recording[0]);
        try (Backends.Scope ignored = Backends.use(counted)) {
            Tensor w = Tensor.of(new double[] {1, 2, 3}, 3).requiresGrad(true);
            w.mul(w).sum().backward();
            calls.clear();                         // (backward seeds itself with a fill)
            w.zeroGrad();                          // deferred: nothing written yet
            assertEquals(null, calls.get("fill"));
            io.grad4j.DeferredWrites.flush(counted); // what CudaBackend.capture does first
            assertEquals(1, calls.get("fill"));
            recording[0] = true;
            calls.clear();
            w.zeroGrad();                          // recording: written at once
            assertEquals(1, calls.get("fill"));
            w.mul(3).sum().backward();             // and added to, not copied over
            assertEquals(1, calls.get("binary ADD"));
            assertEquals(null, calls.get("copyEach"));
            assertArrayEquals(new double[] {3, 3, 3}, w.grad().toDoubleArray(), 0.0);
            recording[0] = false;
            calls.clear();
            io.grad4j.DeferredWrites.flush(counted); // nothing owed: no work
            assertEquals(Map.of(), calls);
        }
    }

    /** The multi-tensor update rounds exactly as one updateInPlace per pair (more pairs than one cuda launch takes). */
    @Test
    void updateEachInPlaceEqualsOneUpdateAtATime() {
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            List<Tensor> targets = new java.util.ArrayList<>();
            List<Tensor> xs = new java.util.ArrayList<>();
            List<Tensor> expected = new java.util.ArrayList<>();
            for (int i = 0; i < 40; i++) {
                int n = i == 7 ? 0 : 1 + (i * 37) % 300; // one empty tensor; odd lengths
                Tensor t = Tensor.randn(dtype, 100 + i, n);
                Tensor x = i == 11 ? t : Tensor.randn(dtype, 200 + i, n); // a target may be its own x
                Tensor e = t.mul(1.0);
                e.updateInPlace(0.999, -0.05, i == 11 ? e.mul(1.0) : x);
                targets.add(t);
                xs.add(x);
                expected.add(e);
            }
            io.grad4j.ForeachUpdates.axpby(0.999, -0.05, targets, xs);
            for (int i = 0; i < targets.size(); i++) {
                assertArrayEquals(expected.get(i).toDoubleArray(), targets.get(i).toDoubleArray(), 0.0, dtype + " pair " + i);
            }
        }
    }

    /**
     * Updates over more elements than one thread takes (the cpu backend shares loops of over 2^17
     * elements between threads, in pieces that run from one tensor into the next): every element
     * is beta*y + alpha*x with each product rounded on its own, checked against that arithmetic in
     * Java, for one large tensor and for a list with empty, tiny and large ones.
     */
    @Test
    void updatesOverManyElementsAreElementwise() {
        int[] lengths = {200_003, 0, 1, 131_073, 77, 65_536};
        double alpha = -0.05;
        double beta = 0.999;
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            List<Tensor> targets = new java.util.ArrayList<>();
            List<Tensor> xs = new java.util.ArrayList<>();
            List<double[]> expected = new java.util.ArrayList<>();
            for (int i = 0; i < lengths.length; i++) {
                Tensor t = Tensor.randn(dtype, 900 + i, lengths[i]);
                Tensor x = Tensor.randn(dtype, 950 + i, lengths[i]);
                expected.add(axpbyInJava(dtype, alpha, x.toDoubleArray(), beta, t.toDoubleArray()));
                targets.add(t);
                xs.add(x);
            }
            io.grad4j.ForeachUpdates.axpby(beta, alpha, targets, xs);
            for (int i = 0; i < lengths.length; i++) {
                assertArrayEquals(expected.get(i), targets.get(i).toDoubleArray(), 0.0, dtype + " pair " + i);
            }
            Tensor one = Tensor.randn(dtype, 990, 3, 100_001);
            Tensor x = Tensor.randn(dtype, 991, 3, 100_001);
            double[] oneExpected = axpbyInJava(dtype, alpha, x.toDoubleArray(), beta, one.toDoubleArray());
            one.updateInPlace(beta, alpha, x);
            assertArrayEquals(oneExpected, one.toDoubleArray(), 0.0, dtype + " one tensor");
        }
    }

    private static double[] axpbyInJava(DType dtype, double alpha, double[] x, double beta, double[] y) {
        double[] out = new double[y.length];
        for (int k = 0; k < y.length; k++) {
            out[k] = dtype == DType.FLOAT32 ? (float) alpha * (float) x[k] + (float) beta * (float) y[k]
                    : alpha * x[k] + beta * y[k];
        }
        return out;
    }

    @Test
    void updateEachInPlaceTakesPairsThatShareMemoryInOrderAndRefusesMismatches() {
        // a backend may update independent pairs in any order: this one goes backwards, so only
        // the one-at-a-time fallback for overlapping pairs gives the in-order results checked here
        Backend inner = backend();
        Backend backwards = (Backend) java.lang.reflect.Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                    if (method.getName().equals("axpbyEach")) {
                        List<?> xs = (List<?>) args[1];
                        List<?> ys = (List<?>) args[3];
                        for (int i = xs.size() - 1; i >= 0; i--) {
                            inner.axpby((double) args[0], (io.grad4j.backend.Storage) xs.get(i), (double) args[2],
                                    (io.grad4j.backend.Storage) ys.get(i));
                        }
                        return null;
                    }
                    try {
                        return method.invoke(inner, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        try (Backends.Scope ignored = Backends.use(backwards)) {
            Tensor a = Tensor.of(new double[] {1, 2, 3, 4}, 4);
            Tensor b = Tensor.of(new double[] {10, 20, 30, 40}, 4);
            Tensor c = Tensor.of(new double[] {100, 200, 300, 400}, 4);
            // a listed twice (once through a view): a = 0.5 * (0.5 * a + b) + c, as two updateInPlace calls
            io.grad4j.ForeachUpdates.axpby(0.5, 1.0, List.of(a, a.reshape(2, 2).reshape(4)), List.of(b, c));
            assertArrayEquals(new double[] {105.25, 210.5, 315.75, 421}, a.toDoubleArray(), 0.0);
            // b is pair 0's x and pair 1's target: pair 0 reads b before pair 1 changes it
            io.grad4j.ForeachUpdates.axpby(1.0, 1.0, List.of(c, b), List.of(b, a));
            assertArrayEquals(new double[] {110, 220, 330, 440}, c.toDoubleArray(), 0.0);
            assertArrayEquals(new double[] {115.25, 230.5, 345.75, 461}, b.toDoubleArray(), 0.0);
        }

        Tensor f = Tensor.randn(DType.FLOAT32, 1, 4);
        Tensor g = Tensor.randn(DType.FLOAT32, 2, 4);
        IllegalArgumentException shapes = assertThrows(IllegalArgumentException.class,
                () -> io.grad4j.ForeachUpdates.axpby(1, 1, List.of(f), List.of(Tensor.randn(DType.FLOAT32, 4, 5))));
        assertTrue(shapes.getMessage().contains("pair 0") && shapes.getMessage().contains("[4] vs x [5]"), shapes.getMessage());
        IllegalArgumentException dtypes = assertThrows(IllegalArgumentException.class,
                () -> io.grad4j.ForeachUpdates.axpby(1, 1, List.of(f), List.of(Tensor.randn(DType.FLOAT64, 5, 4))));
        assertTrue(dtypes.getMessage().contains("dtypes differ"), dtypes.getMessage());
        assertThrows(IllegalArgumentException.class, () -> io.grad4j.ForeachUpdates.axpby(1, 1, List.of(f, g), List.of(g)));
        Tensor p = Tensor.randn(DType.FLOAT32, 6, 4).requiresGrad(true);
        IllegalStateException tracked = assertThrows(IllegalStateException.class,
                () -> io.grad4j.ForeachUpdates.axpby(1, 1, List.of(f, p), List.of(f, f)));
        assertTrue(tracked.getMessage().contains("noGrad"), tracked.getMessage());
        assertArrayEquals(Tensor.randn(DType.FLOAT32, 1, 4).toDoubleArray(), f.toDoubleArray(), 0.0, "nothing was updated");
    }

    @Test
    void momentumAndWeightDecayFollowPyTorch() {
        Tensor p = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        SGD sgd = new SGD(List.of(p), 0.1, 0.9, 0.01);
        p.mul(p).sum().backward();
        sgd.step(); // g = 2 + 0.01 = 2.01; v = 2.01; p = 1 - 0.201
        assertEquals(0.799, p.toDoubleArray()[0], 1e-12);
        sgd.zeroGrad();
        p.mul(p).sum().backward();
        sgd.step(); // g = 1.598 + 0.00799; v = 0.9 * 2.01 + g; p -= 0.1 v
        assertEquals(0.799 - 0.1 * (0.9 * 2.01 + 1.598 + 0.00799), p.toDoubleArray()[0], 1e-12);
    }

    @Test
    void crossEntropyIsMeanNegativeLogLikelihood() {
        Tensor logits = Tensor.of(new double[] {0, 0, 1, 2, 3, 4}, 2, 3).requiresGrad(true);
        // row 0: logits 0,0,1 label 2; row 1: logits 2,3,4 label 0
        Tensor loss = Losses.crossEntropy(logits, new int[] {2, 0});
        double r0 = -(1 - Math.log(2 + Math.E));
        double r1 = -(2 - Math.log(Math.exp(2) + Math.exp(3) + Math.exp(4)));
        assertEquals((r0 + r1) / 2, loss.item(), 1e-12);
        loss.backward();
        double[] g = logits.grad().toDoubleArray();
        double z0 = 2 + Math.E;
        assertEquals((1 / z0) / 2, g[0], 1e-12);
        assertEquals((Math.E / z0 - 1) / 2, g[2], 1e-12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Losses.crossEntropy(logits, new int[] {3, 0}));
        assertTrue(e.getMessage().contains("label 3"), e.getMessage());
        Tensor big = Tensor.of(new float[] {1000f, -1000f}, 1, 2);
        assertEquals(0.0, Losses.crossEntropy(big, new int[] {0}).item(), 1e-6);
    }

    @Test
    void crossEntropyBackwardUsesTheLabelsOfItsForwardPass() {
        Tensor logits = Tensor.of(new double[] {0, 0, 1, 2, 3, 4}, 2, 3).requiresGrad(true);
        int[] labels = {2, 0};
        Tensor loss = Losses.crossEntropy(logits, labels);
        labels[0] = 1; // a loader refilling its array before backward must not change this gradient
        loss.backward();
        double z0 = 2 + Math.E;
        assertEquals((Math.E / z0 - 1) / 2, logits.grad().toDoubleArray()[2], 1e-12);
        assertEquals((1 / z0) / 2, logits.grad().toDoubleArray()[1], 1e-12);
    }

    @Test
    void mseIsMeanSquaredError() {
        Tensor a = Tensor.of(new double[] {1, 2, 3}, 3);
        Tensor b = Tensor.of(new double[] {1, 0, 6}, 3);
        assertEquals((0 + 4 + 9) / 3.0, Losses.mse(a, b).item(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Losses.mse(a, Tensor.zeros(DType.FLOAT64, 2)));
    }

    @Test
    void linearIsXWTransposedPlusBInPyTorchsLayoutAndInitialisation() {
        Linear layer = new Linear(16, 4, 3);
        assertArrayEquals(new int[] {4, 16}, layer.weight().shape()); // [out, in], as PyTorch
        assertTrue(layer.weight().isContiguous());
        assertArrayEquals(new int[] {4}, layer.bias().shape());
        double bound = 1 / Math.sqrt(16);
        for (double w : layer.weight().toDoubleArray()) {
            assertTrue(Math.abs(w) <= bound, "weight " + w + " outside +-" + bound);
        }
        // the numbers a seed gave when W was stored [in, out], transposed: a seed's network is unchanged
        Tensor drawn = Tensor.rand(DType.FLOAT32, 3, 16, 4).mul(2 * bound).sub(bound);
        assertArrayEquals(drawn.transpose().contiguous().toFloatArray(), layer.weight().toFloatArray());
        Tensor x = Tensor.randn(DType.FLOAT32, 4, 5, 16);
        Tensor expected = x.matmul(layer.weight().transpose().contiguous()).add(layer.bias());
        assertArrayEquals(expected.toDoubleArray(), layer.forward(x).toDoubleArray(), 1e-6);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> layer.forward(Tensor.zeros(DType.FLOAT32, 5, 15)));
        assertTrue(e.getMessage().contains("Linear(16 -> 4)") && e.getMessage().contains("[5, 15]"), e.getMessage());
    }

    /** bias = false: y = x W^T, one parameter, the same W for the seed, no "bias" in the checkpoint names. */
    @Test
    void linearWithoutBias() {
        Linear plain = new Linear(5, 3, 9, false);
        Linear withBias = new Linear(5, 3, 9);
        assertArrayEquals(withBias.weight().toFloatArray(), plain.weight().toFloatArray());
        assertEquals(null, plain.bias());
        assertEquals(1, plain.parameters().size());
        Tensor x = Tensor.randn(DType.FLOAT32, 10, 2, 5);
        assertArrayEquals(x.matmul(plain.weight().transpose().contiguous()).toFloatArray(), plain.forward(x).toFloatArray(), 1e-6f);
        plain.forward(x).sum().backward();
        assertArrayEquals(new int[] {3, 5}, plain.weight().grad().shape());
        assertEquals(java.util.List.of("weight"), java.util.List.copyOf(io.grad4j.checkpoint.Checkpoint.named(plain).keySet()));
    }

    /** W's gradient arrives in W's layout ([out, in]) and equals g^T x; batched inputs share W. */
    @Test
    void linearGradientsKeepTheWeightsLayout() {
        Linear layer = new Linear(3, 2, 5, DType.FLOAT64);
        Tensor x = Tensor.randn(DType.FLOAT64, 6, 4, 3);
        Tensor g = Tensor.randn(DType.FLOAT64, 7, 4, 2);
        layer.forward(x).backward(g);
        assertArrayEquals(new int[] {2, 3}, layer.weight().grad().shape());
        assertTrue(layer.weight().grad().isContiguous());
        double[] expected = g.transpose().matmul(x).toDoubleArray();
        assertArrayEquals(expected, layer.weight().grad().toDoubleArray(), 1e-12);
        assertArrayEquals(g.sum(0, false).toDoubleArray(), layer.bias().grad().toDoubleArray(), 1e-12);
        GradCheck.Result r = GradCheck.check(in -> in[0].matmulAdd(in[1].transpose(), in[2]),
                Tensor.randn(DType.FLOAT64, 8, 2, 4, 3), layer.weight().detach().requiresGrad(true),
                layer.bias().detach().requiresGrad(true));
        assertTrue(r.passed(), r.report());
    }

    @Test
    void aTinyNetworkOverfitsAFixedBatch() {
        Sequential net = new Sequential(new Linear(2, 16, 1), new Tanh(), new Linear(16, 16, 2), new ReLU(), new Linear(16, 2, 3));
        Tensor x = Tensor.of(new float[] {0, 0, 0, 1, 1, 0, 1, 1}, 4, 2);
        int[] xor = {0, 1, 1, 0};
        SGD sgd = new SGD(net.parameters(), 0.2, 0.9, 0.0);
        double loss = Double.NaN;
        for (int step = 0; step < 400; step++) {
            sgd.zeroGrad();
            Tensor l = Losses.crossEntropy(net.forward(x), xor);
            l.backward();
            sgd.step();
            loss = l.item();
        }
        assertTrue(loss < 0.01, "XOR loss after 400 steps: " + loss);
    }

    /**
     * The mean cross-entropy, fused into one backend call each way (Backend.crossEntropyMean and
     * its backward), gives bit for bit what the per-row losses and their mean give: the loss, the
     * gradient, the JVP. Shapes straddle the cuda backend's choices: its sum by one warp below
     * 4,096 rows and by a block of 1,024 threads from there, one thread per row below 64 classes
     * and a warp per row from there, the fused kernel up to 2^13 logits and the composition past
     * them. Every third row's label logit is pushed down to -10^(r mod 17), so losses run from
     * about 1 to 1e16 and a sum in another order rounds differently (logits of like size sum
     * exactly in float's double accumulator, in any order). One shape holds an infinite loss and
     * one a NaN row. The SPI's own default is checked too, through a proxy withholding overrides.
     */
    @Test
    void fusedMeanCrossEntropyRoundsExactlyAsThePerRowLossesAndTheirMean() {
        Backend inner = backend();
        Backend defaultOnly = withSpiDefaults(inner, name -> name.startsWith("crossEntropyMean"));
        int[][] shapes = {{1, 1}, {5, 10}, {6, 10}, {128, 10}, {33, 64}, {120, 63}, {819, 10}, {820, 10}, {4095, 2},
                {4096, 2}, {4100, 1}, {3000, 100}, {5000, 10}};
        Random rnd = new Random(29);
        for (Backend b : new Backend[] {inner, defaultOnly}) {
            try (Backends.Scope ignored = Backends.use(b)) {
                for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
                    for (int[] shape : shapes) {
                        int rows = shape[0];
                        int classes = shape[1];
                        if (b == defaultOnly && rows > 200) {
                            continue; // the default is the composition itself; the small shapes show it is called
                        }
                        double[] values = new double[rows * classes];
                        for (int i = 0; i < values.length; i++) {
                            values[i] = 10 * rnd.nextDouble() - 5;
                        }
                        int[] labels = rnd.ints(rows, 0, classes).toArray();
                        for (int r = 0; r < rows; r += 3) {
                            values[r * classes + labels[r]] = -Math.pow(10, r % 17);
                        }
                        if (rows == 6) {
                            values[2 * classes + labels[2]] = Double.NEGATIVE_INFINITY; // an infinite loss
                        }
                        if (rows == 5) {
                            values[4 * classes + 1] = Double.NaN; // a NaN row
                        }
                        String what = b.name() + " " + dtype + " " + rows + "x" + classes;
                        Tensor x = Tensor.of(values, rows, classes).to(dtype);
                        Tensor tangent = Tensor.randn(dtype, 31 + rows, rows, classes);
                        if (rows <= 128 && rows != 6) { // without the infinite loss the JVP stays finite
                            assertArrayEquals(Autograd.jvp(t -> t.crossEntropyPerRow(labels).mean(), x, tangent)
                                            .toDoubleArray(),
                                    Autograd.jvp(t -> t.crossEntropy(labels), x, tangent).toDoubleArray(), what + " jvp");
                        }
                        Tensor composedX = x.detach().requiresGrad(true);
                        Tensor fusedX = x.detach().requiresGrad(true);
                        Tensor composed = composedX.crossEntropyPerRow(labels).mean();
                        Tensor fused = fusedX.crossEntropy(labels);
                        assertEquals(Double.doubleToLongBits(composed.item()), Double.doubleToLongBits(fused.item()),
                                what + " loss " + composed.item() + " vs " + fused.item());
                        composed.mul(3).backward();
                        fused.mul(3).backward();
                        assertArrayEquals(composedX.grad().toDoubleArray(), fusedX.grad().toDoubleArray(), what + " grad");
                    }
                }
            }
        }
    }

    /**
     * Tensor.matmulAdd (Linear's forward: the bias added where the backend writes the product)
     * gives bit for bit what matmul then add gives: the values, the three gradients and the JVP
     * (also where x holds an infinity and only the bias has a tangent), for a batch of rows, a
     * batched (rank-3) input sharing the weight, empty batches (one with a k long enough to be
     * split), shapes that reach the cuda backend's 128-tile GEMM (1536 x 1536 outputs: 144 tiles,
     * enough to fill a GPU) and its split-K GEMM (a long k and few tiles); through the backend's
     * override and the SPI default (a proxy withholding the override).
     */
    @Test
    void matmulAddIsMatmulThenAddBitForBit() {
        Backend inner = backend();
        Backend defaultOnly = withSpiDefaults(inner, name -> name.equals("matmulBias"));
        int[][][] cases = { // x shape, w shape
                {{5, 8}, {8, 3}}, {{1, 1}, {1, 1}}, {{2, 3, 8}, {8, 6}}, {{300, 200}, {200, 130}}, {{32, 3000}, {3000, 40}},
                {{1536, 64}, {64, 1536}}, {{4, 0}, {0, 3}}, {{0, 600}, {600, 3}}, {{0, 2, 8}, {8, 3}}};
        for (Backend b : new Backend[] {inner, defaultOnly}) {
            try (Backends.Scope ignored = Backends.use(b)) {
                for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
                    for (int[][] c : cases) {
                        int[] xShape = c[0];
                        int[] wShape = c[1];
                        int n = wShape[1];
                        String what = b.name() + " " + dtype + " " + java.util.Arrays.toString(xShape) + " @ "
                                + java.util.Arrays.toString(wShape);
                        Tensor x = Tensor.randn(dtype, 40 + n, xShape);
                        Tensor w = Tensor.randn(dtype, 41 + n, wShape);
                        Tensor bias = Tensor.randn(dtype, 42 + n, n);
                        Tensor[] fused = {x.detach().requiresGrad(true), w.detach().requiresGrad(true), bias.detach().requiresGrad(true)};
                        Tensor[] composed = {x.detach().requiresGrad(true), w.detach().requiresGrad(true), bias.detach().requiresGrad(true)};
                        Tensor yf = fused[0].matmulAdd(fused[1], fused[2]);
                        Tensor yc = composed[0].matmul(composed[1]).add(composed[2]);
                        assertArrayEquals(yc.toDoubleArray(), yf.toDoubleArray(), what + " values");
                        Tensor upstream = Tensor.randn(dtype, 43 + n, yc.shape());
                        yf.backward(upstream);
                        yc.backward(upstream);
                        for (int i = 0; i < 3; i++) {
                            assertArrayEquals(composed[i].grad().toDoubleArray(), fused[i].grad().toDoubleArray(),
                                    what + " gradient of input " + i);
                        }
                        if (xShape[xShape.length - 1] > 0 && xShape[0] < 100) {
                            Tensor tx = Tensor.randn(dtype, 44 + n, xShape);
                            Tensor tb = Tensor.randn(dtype, 45 + n, n);
                            assertArrayEquals(Autograd.jvp(t -> t.matmul(w).add(bias), x, tx).toDoubleArray(),
                                    Autograd.jvp(t -> t.matmulAdd(w, bias), x, tx).toDoubleArray(), what + " jvp in x");
                            assertArrayEquals(Autograd.jvp(t -> x.matmul(w).add(t), bias, tb).toDoubleArray(),
                                    Autograd.jvp(t -> x.matmulAdd(w, t), bias, tb).toDoubleArray(), what + " jvp in the bias");
                            if (x.numel() > 0) { // the product has no tangent: 0 + tb, not 0 @ w + x @ 0 (NaN at an infinity)
                                double[] xs = x.toDoubleArray();
                                xs[0] = Double.POSITIVE_INFINITY;
                                Tensor xInf = Tensor.of(xs, xShape).to(dtype);
                                assertArrayEquals(Autograd.jvp(t -> xInf.matmul(w).add(t), bias, tb).toDoubleArray(),
                                        Autograd.jvp(t -> xInf.matmulAdd(w, t), bias, tb).toDoubleArray(),
                                        what + " jvp in the bias, x infinite somewhere");
                            }
                        }
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- Nesterov, Adam, AdamW

    /**
     * The fused Adam/AdamW step (Backend.adamEach: one loop or kernel per parameter) gives,
     * bit for bit, what the same step composed of tensor operations gives, with and without
     * weight decay, in both dtypes, including a parameter whose first step comes late; and so
     * does the SPI's own composed default, run here through a proxy that withholds the
     * backend's override.
     */
    @Test
    void fusedAdamStepsRoundExactlyAsTheComposedStep() {
        Backend inner = backend();
        Backend defaultOnly = withSpiDefaults(inner, name -> name.equals("adamEach"));
        for (Backend b : new Backend[] {inner, defaultOnly}) {
            try (Backends.Scope ignored = Backends.use(b)) {
                for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
                    for (boolean decoupled : new boolean[] {false, true}) {
                        for (double wd : new double[] {0.0, 0.05}) {
                            List<Tensor> fused = adamParameters(dtype);
                            List<Tensor> composed = adamParameters(dtype);
                            // a large lr: updates as large as the parameters, so that a rounding
                            // difference in the denominator is not absorbed by p - update
                            Optimizer opt = decoupled ? new AdamW(fused, 0.7, 0.8, 0.95, 1e-3, wd)
                                    : new Adam(fused, 0.7, 0.8, 0.95, 1e-3, wd);
                            ComposedAdam reference = new ComposedAdam(composed, 0.7, 0.8, 0.95, 1e-3, wd, decoupled);
                            for (int step = 1; step <= 3; step++) {
                                adamLoss(fused, step).backward();
                                adamLoss(composed, step).backward();
                                opt.step();
                                reference.step();
                                opt.zeroGrad();
                                composed.forEach(Tensor::zeroGrad);
                            }
                            String what = b.name() + " " + dtype + (decoupled ? " AdamW" : " Adam") + " wd=" + wd;
                            Map<String, Tensor> state = opt.state();
                            for (int i = 0; i < fused.size(); i++) {
                                // no delta: compared bit for bit (-0.0 and 0.0 differ)
                                assertArrayEquals(composed.get(i).toDoubleArray(), fused.get(i).toDoubleArray(),
                                        what + " parameter " + i);
                                assertArrayEquals(reference.m[i].toDoubleArray(), state.get(i + ".exp_avg").toDoubleArray(),
                                        what + " m " + i);
                                assertArrayEquals(reference.v[i].toDoubleArray(), state.get(i + ".exp_avg_sq").toDoubleArray(),
                                        what + " v " + i);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * ForeachUpdates.adam directly, over more parameters than one cuda launch takes (16), first and
     * later steps mixed in one call: a first step must not read m and v (they hold NaN here), a
     * later one must; both against the composed formulas, bit for bit, Adam and AdamW, both dtypes.
     * Two parameters are long enough for the cpu backend to share the loop between threads.
     */
    @Test
    void adamStepEachMixesFirstAndLaterStepsAndNeverReadsFirstMoments() {
        double lr = 0.7, b1 = 0.8, b2 = 0.95, eps = 1e-3, wd = 0.05;
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (boolean decoupled : new boolean[] {false, true}) {
                int count = 20;
                List<Tensor> ps = new java.util.ArrayList<>(), gs = new java.util.ArrayList<>();
                List<Tensor> ms = new java.util.ArrayList<>(), vs = new java.util.ArrayList<>();
                double[] sizes = new double[count], inv = new double[count];
                boolean[] first = new boolean[count];
                double[][] expectedP = new double[count][], expectedM = new double[count][], expectedV = new double[count][];
                for (int i = 0; i < count; i++) {
                    // two parameters large enough that the cpu backend's threads share them
                    int n = i == 5 ? 150_001 : i == 6 ? 70_000 : 1 + (i * 53) % 300;
                    Tensor p = Tensor.randn(dtype, 500 + i, n);
                    Tensor g = Tensor.randn(dtype, 600 + i, n);
                    first[i] = i % 2 == 0;
                    Tensor m = first[i] ? Tensor.full(dtype, Double.NaN, n) : Tensor.randn(dtype, 700 + i, n);
                    Tensor v = first[i] ? Tensor.full(dtype, Double.NaN, n) : Tensor.randn(dtype, 800 + i, n).abs();
                    int t = first[i] ? 1 : 2 + i;
                    sizes[i] = lr / (1 - Math.pow(b1, t));
                    inv[i] = 1.0 / Math.sqrt(1 - Math.pow(b2, t));
                    // the composed step on copies
                    Tensor pc = p.mul(1.0);
                    Tensor gc = g;
                    if (decoupled) {
                        pc = pc.mul(1 - lr * wd);
                    } else {
                        gc = g.add(pc.mul(wd));
                    }
                    Tensor mc = first[i] ? gc.mul(1 - b1) : m.mul(b1).add(gc.mul(1 - b1));
                    Tensor vc = first[i] ? gc.mul(gc).mul(1 - b2) : v.mul(b2).add(gc.mul(gc).mul(1 - b2));
                    Tensor denom = vc.sqrt().div(Math.sqrt(1 - Math.pow(b2, t))).add(eps);
                    expectedP[i] = pc.sub(mc.div(denom).mul(sizes[i])).toDoubleArray();
                    expectedM[i] = mc.toDoubleArray();
                    expectedV[i] = vc.toDoubleArray();
                    ps.add(p);
                    gs.add(g);
                    ms.add(m);
                    vs.add(v);
                }
                List<io.grad4j.ForeachUpdates.AdamSlot> slots = new java.util.ArrayList<>();
                for (int i = 0; i < count; i++) {
                    slots.add(new io.grad4j.ForeachUpdates.AdamSlot(ps.get(i), gs.get(i), ms.get(i), vs.get(i), sizes[i], inv[i],
                            first[i]));
                }
                io.grad4j.ForeachUpdates.adam(new io.grad4j.backend.AdamStep(lr, b1, b2, eps, wd, decoupled), slots);
                for (int i = 0; i < count; i++) {
                    String what = dtype + (decoupled ? " AdamW" : " Adam") + " parameter " + i + (first[i] ? " (first)" : "");
                    assertArrayEquals(expectedP[i], ps.get(i).toDoubleArray(), what);
                    assertArrayEquals(expectedM[i], ms.get(i).toDoubleArray(), what + " m");
                    assertArrayEquals(expectedV[i], vs.get(i).toDoubleArray(), what + " v");
                }
            }
        }
    }

    /**
     * A parameter listed twice would be stepped twice per step() (it was, before issue 23), and an
     * empty list optimizes nothing: every optimizer refuses both, as PyTorch does, naming the
     * positions. (ForeachUpdates.adam still steps a tensor listed twice in order: that is the
     * low-level multi-tensor call, tested above.)
     */
    @Test
    void optimizersRefuseAParameterListedTwiceAndAnEmptyList() {
        Tensor w = Tensor.randn(DType.FLOAT64, 41, 6).requiresGrad(true);
        Tensor other = Tensor.randn(DType.FLOAT64, 42, 3).requiresGrad(true);
        List<java.util.function.Function<List<Tensor>, Object>> optimizers = List.of(
                ps -> new SGD(ps, 0.1), ps -> new SGD(ps, 0.1, 0.9, 0.0),
                ps -> new Adam(ps, 0.3, 0.8, 0.95, 1e-3, 0.02), ps -> new io.grad4j.optim.AdamW(ps, 0.3, 0.8, 0.95, 1e-3, 0.02));
        for (java.util.function.Function<List<Tensor>, Object> make : optimizers) {
            IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> make.apply(List.of(w, other, w)));
            assertTrue(twice.getMessage().contains("parameter 2 is the same tensor as parameter 0"), twice.getMessage());
            IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> make.apply(List.of()));
            assertTrue(empty.getMessage().contains("parameter list is empty"), empty.getMessage());
            java.util.ArrayList<Tensor> withNull = new java.util.ArrayList<>(List.of(w));
            withNull.add(null);
            IllegalArgumentException nul = assertThrows(IllegalArgumentException.class, () -> make.apply(withNull));
            assertTrue(nul.getMessage().contains("parameter 1 of 2 is null"), nul.getMessage());
        }
    }

    private static List<Tensor> adamParameters(DType dtype) {
        return List.of(Tensor.randn(dtype, 31, 3, 5).requiresGrad(true), Tensor.randn(dtype, 32, 7).requiresGrad(true),
                Tensor.randn(dtype, 33, 1).requiresGrad(true));
    }

    /** Cubes and squares with different weights; the last parameter only from step 2 on (its first step comes late). */
    private static Tensor adamLoss(List<Tensor> ps, int step) {
        Tensor loss = ps.get(0).mul(ps.get(0)).mul(ps.get(0)).sum().add(ps.get(1).mul(ps.get(1)).mul(0.5 * step).sum());
        return step == 1 ? loss : loss.add(ps.get(2).mul(ps.get(2)).mul(3.0).sum());
    }

    /** The Adam/AdamW step as tensor operations, one parameter at a time (what grad4j did before fusing it). */
    private static final class ComposedAdam {
        final List<Tensor> params;
        final double lr, beta1, beta2, eps, wd;
        final boolean decoupled;
        final Tensor[] m, v;
        final long[] t;

        ComposedAdam(List<Tensor> params, double lr, double beta1, double beta2, double eps, double wd, boolean decoupled) {
            this.params = params;
            this.lr = lr;
            this.beta1 = beta1;
            this.beta2 = beta2;
            this.eps = eps;
            this.wd = wd;
            this.decoupled = decoupled;
            this.m = new Tensor[params.size()];
            this.v = new Tensor[params.size()];
            this.t = new long[params.size()];
        }

        void step() {
            try (io.grad4j.autograd.NoGrad ignored = io.grad4j.autograd.Autograd.noGrad()) {
                for (int i = 0; i < params.size(); i++) {
                    Tensor p = params.get(i);
                    Tensor g = p.grad();
                    if (g == null) {
                        continue;
                    }
                    long step = ++t[i];
                    if (wd != 0) {
                        if (decoupled) {
                            p.assign(p.mul(1 - lr * wd));
                        } else {
                            g = g.add(p.mul(wd));
                        }
                    }
                    m[i] = m[i] == null ? g.mul(1 - beta1) : m[i].mul(beta1).add(g.mul(1 - beta1));
                    v[i] = v[i] == null ? g.mul(g).mul(1 - beta2) : v[i].mul(beta2).add(g.mul(g).mul(1 - beta2));
                    double stepSize = lr / (1 - Math.pow(beta1, step));
                    Tensor denom = v[i].sqrt().div(Math.sqrt(1 - Math.pow(beta2, step))).add(eps);
                    p.assign(p.sub(m[i].div(denom).mul(stepSize)));
                }
            }
        }
    }

    /** loss = sum(p^2), so grad = 2p; one backward and one step. */
    private static void stepOnSquares(Tensor p, Optimizer opt) {
        opt.zeroGrad();
        p.mul(p).sum().backward();
        opt.step();
    }

    @Test
    void nesterovMomentumFollowsPyTorch() {
        Tensor p = Tensor.of(new double[] {1, -2}, 2).requiresGrad(true);
        SGD sgd = new SGD(List.of(p), 0.1, 0.9, 0.1, true);
        // step 1, element 0: g = 2*1 + 0.1*1 = 2.1; v = 2.1; g = 2.1 + 0.9*2.1 = 3.99; p = 1 - 0.1*3.99 = 0.601
        //         element 1: g = -4 - 0.2 = -4.2; v = -4.2; g = -4.2 - 3.78 = -7.98; p = -2 + 0.798 = -1.202
        stepOnSquares(p, sgd);
        assertArrayEquals(new double[] {0.601, -1.202}, p.toDoubleArray(), 1e-12);
        // step 2, element 0: g = 1.202 + 0.0601 = 1.2621; v = 0.9*2.1 + 1.2621 = 3.1521;
        //         g = 1.2621 + 0.9*3.1521 = 4.09899; p = 0.601 - 0.409899 = 0.191101
        //         element 1: g = -2.404 - 0.1202 = -2.5242; v = -3.78 - 2.5242 = -6.3042;
        //         g = -2.5242 - 5.67378 = -8.19798; p = -1.202 + 0.819798 = -0.382202
        stepOnSquares(p, sgd);
        assertArrayEquals(new double[] {0.191101, -0.382202}, p.toDoubleArray(), 1e-12);
    }

    @Test
    void adamFollowsPyTorchWithL2WeightDecay() {
        Tensor p = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        Adam adam = new Adam(List.of(p), 0.1, 0.9, 0.999, 1e-8, 0.1);
        // step 1: g = 2*1 + 0.1*1 = 2.1; m = 0.1*2.1 = 0.21; v = 0.001*2.1^2 = 0.00441;
        //         bc1 = 1 - 0.9 = 0.1; bc2 = 1 - 0.999 = 0.001;
        //         denom = sqrt(0.00441)/sqrt(0.001) + 1e-8 = 2.1 + 1e-8;
        //         p = 1 - (0.1/0.1) * 0.21 / (2.1 + 1e-8) = 0.9000000004761904
        stepOnSquares(p, adam);
        double p1 = 1 - (0.1 / 0.1) * 0.21 / (Math.sqrt(0.00441) / Math.sqrt(0.001) + 1e-8);
        assertEquals(0.9000000004761904, p1, 1e-15);
        assertEquals(p1, p.toDoubleArray()[0], 1e-12);
        // step 2: g = 2*p1 + 0.1*p1 = 2.1*p1 = 1.890000001; m = 0.9*0.21 + 0.1*g = 0.3780000001;
        //         v = 0.999*0.00441 + 0.001*g^2 = 0.00797769000378; bc1 = 1 - 0.81 = 0.19;
        //         bc2 = 1 - 0.998001 = 0.001999; denom = sqrt(v)/sqrt(0.001999) + 1e-8 = 1.99770880312;
        //         p = p1 - (0.1/0.19) * m / denom = 0.8004122286431954
        stepOnSquares(p, adam);
        double g = 2.1 * p1;
        double m = 0.9 * 0.21 + 0.1 * g;
        double v = 0.999 * 0.00441 + 0.001 * g * g;
        double p2 = p1 - (0.1 / (1 - 0.9 * 0.9)) * m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 * 0.999) + 1e-8);
        assertEquals(0.8004122286431954, p2, 1e-15);
        assertEquals(p2, p.toDoubleArray()[0], 1e-12);
    }

    @Test
    void adamWDecaysTheParameterBeforeTheAdamUpdate() {
        Tensor p = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        AdamW adamW = new AdamW(List.of(p), 0.1, 0.9, 0.999, 1e-8, 0.1);
        // step 1: g = 2*1 = 2 (no decay in the gradient); p = 1 * (1 - 0.1*0.1) = 0.99;
        //         m = 0.2; v = 0.001*4 = 0.004; denom = sqrt(0.004)/sqrt(0.001) + 1e-8 = 2 + 1e-8;
        //         p = 0.99 - (0.1/0.1) * 0.2 / (2 + 1e-8) = 0.8900000005
        stepOnSquares(p, adamW);
        double p1 = 0.99 - (0.1 / 0.1) * 0.2 / (Math.sqrt(0.004) / Math.sqrt(0.001) + 1e-8);
        assertEquals(0.8900000005, p1, 1e-15);
        assertEquals(p1, p.toDoubleArray()[0], 1e-12);
        // step 2: g = 2*p1 = 1.780000001; p = 0.99*p1; m = 0.9*0.2 + 0.1*g = 0.3580000001;
        //         v = 0.999*0.004 + 0.001*g^2 = 0.00716440000356; bc1 = 0.19; bc2 = 0.001999;
        //         denom = sqrt(v)/sqrt(0.001999) + 1e-8 = 1.89314342712;
        //         p = 0.99*p1 - (0.1/0.19) * m / denom = 0.7815718559365048
        stepOnSquares(p, adamW);
        double g = 2 * p1;
        double m = 0.9 * 0.2 + 0.1 * g;
        double v = 0.999 * 0.004 + 0.001 * g * g;
        double p2 = 0.99 * p1 - (0.1 / (1 - 0.9 * 0.9)) * m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 * 0.999) + 1e-8);
        assertEquals(0.7815718559365048, p2, 1e-15);
        assertEquals(p2, p.toDoubleArray()[0], 1e-12);
    }

    @Test
    void adamDefaultsAreTorchDefaults() {
        Tensor p = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        Tensor q = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        stepOnSquares(p, new Adam(List.of(p), 0.01));
        stepOnSquares(q, new AdamW(List.of(q), 0.01));
        // Adam, first step: m/bc1 = g, sqrt(v/bc2) = |g|, so p = 1 - 0.01 * 2 / (2 + 1e-8)
        assertEquals(1 - 0.01 * 2 / (2 + 1e-8), p.toDoubleArray()[0], 1e-12);
        // AdamW's default weight decay is 0.01: p = 1 * (1 - 0.01*0.01) - 0.01 * 2 / (2 + 1e-8)
        assertEquals(0.9999 - 0.01 * 2 / (2 + 1e-8), q.toDoubleArray()[0], 1e-12);
    }

    @Test
    void adamTrainsATinyNetwork() {
        Sequential net = new Sequential(new Linear(2, 16, 1), new Tanh(), new Linear(16, 2, 3));
        Tensor x = Tensor.of(new float[] {0, 0, 0, 1, 1, 0, 1, 1}, 4, 2);
        int[] xor = {0, 1, 1, 0};
        Adam adam = new Adam(net.parameters(), 0.05);
        double loss = Double.NaN;
        for (int step = 0; step < 300; step++) {
            adam.zeroGrad();
            Tensor l = Losses.crossEntropy(net.forward(x), xor);
            l.backward();
            adam.step();
            loss = l.item();
        }
        assertTrue(loss < 0.01, "XOR loss after 300 Adam steps: " + loss);
    }

    // ---------------------------------------------------------------- learning-rate schedules

    @Test
    void stepLRMatchesPyTorchsClosedForm() {
        StepLR schedule = new StepLR(0.1, 3, 0.5);
        // lr = 0.1 * 0.5^floor(epoch / 3)
        double[] expected = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125};
        for (int epoch = 0; epoch < expected.length; epoch++) {
            assertEquals(expected[epoch], schedule.lr(epoch), 1e-15, "epoch " + epoch);
        }
        assertEquals(0.1 * Math.pow(0.5, 33), schedule.lr(100), 1e-25);
    }

    @Test
    void cosineAnnealingMatchesPyTorchsClosedForm() {
        CosineAnnealingLR schedule = new CosineAnnealingLR(0.1, 10, 0.001);
        // lr = 0.001 + 0.099 * (1 + cos(pi * epoch / 10)) / 2
        assertEquals(0.1, schedule.lr(0), 1e-15);
        assertEquals(0.001 + 0.099 * (1 + Math.cos(0.3 * Math.PI)) / 2, schedule.lr(3), 1e-15);
        assertEquals(0.07959536998847742, schedule.lr(3), 1e-15); // cos(0.3 pi) = 0.5877852522924731
        assertEquals(0.0505, schedule.lr(5), 1e-15);              // cos(pi/2) = 0: halfway
        assertEquals(0.001, schedule.lr(10), 1e-15);              // cos(pi) = -1: eta_min at T_max
        assertEquals(0.0505, schedule.lr(15), 1e-15);             // past T_max the cosine rises again
        assertEquals(0.1, schedule.lr(20), 1e-15);
        for (int epoch = 1; epoch < 10; epoch++) {
            assertTrue(schedule.lr(epoch) < schedule.lr(epoch - 1), "decreasing up to T_max, epoch " + epoch);
        }
    }

    @Test
    void aScheduleSetsTheOptimizersLearningRate() {
        Tensor p = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        SGD sgd = new SGD(List.of(p), 0.1);
        LearningRateSchedule schedule = new StepLR(0.1, 1, 0.5);
        schedule.applyTo(sgd, 2); // 0.1 * 0.5^2 = 0.025
        assertEquals(0.025, sgd.learningRate(), 1e-15);
        stepOnSquares(p, sgd);    // p = 1 - 0.025 * 2 = 0.95
        assertEquals(0.95, p.toDoubleArray()[0], 1e-12);
        Adam adam = new Adam(List.of(p), 0.1);
        adam.setLearningRate(0.0); // cosine annealing may reach 0: a zero rate leaves p alone
        stepOnSquares(p, adam);
        assertEquals(0.95, p.toDoubleArray()[0], 0.0);
        assertEquals(0.0, adam.learningRate(), 0.0);
    }

    // ---------------------------------------------------------------- optimizer state

    /** loss = sum(p^2 + c p) with a fixed c, so the gradient 2p + c differs per element. */
    private static void stepOnQuadratic(Tensor p, Optimizer opt) {
        opt.zeroGrad();
        Tensor c = Tensor.of(new double[] {0.5, -1, 2}, 3);
        p.mul(p).add(p.mul(c)).sum().backward();
        opt.step();
    }

    private static void assertStateRoundTripContinuesIdentically(Function<Tensor, Optimizer> make, List<String> names) {
        double[] start = {1, -2, 0.5};
        Tensor uninterrupted = Tensor.of(start, 3).requiresGrad(true);
        Optimizer reference = make.apply(uninterrupted);
        for (int i = 0; i < 5; i++) {
            stepOnQuadratic(uninterrupted, reference);
        }

        Tensor first = Tensor.of(start, 3).requiresGrad(true);
        Optimizer before = make.apply(first);
        for (int i = 0; i < 2; i++) {
            stepOnQuadratic(first, before);
        }
        Map<String, Tensor> saved = before.state();
        assertEquals(new java.util.TreeSet<>(names), new java.util.TreeSet<>(saved.keySet()));

        Tensor resumed = Tensor.of(first.toDoubleArray(), 3).requiresGrad(true);
        Optimizer after = make.apply(resumed);
        after.loadState(saved);
        for (Tensor t : saved.values()) {
            t.close(); // loadState copied them
        }
        stepOnQuadratic(first, before); // the exported copies are independent of the optimizer's buffers
        for (int i = 0; i < 3; i++) {
            stepOnQuadratic(resumed, after);
        }
        assertArrayEquals(uninterrupted.toDoubleArray(), resumed.toDoubleArray(), 0.0);
        Map<String, Tensor> finalState = after.state();
        Map<String, Tensor> referenceState = reference.state();
        for (String name : names) {
            assertArrayEquals(referenceState.get(name).toDoubleArray(), finalState.get(name).toDoubleArray(), 0.0, name);
        }
    }

    @Test
    void sgdStateRoundTripContinuesIdentically() {
        assertStateRoundTripContinuesIdentically(p -> new SGD(List.of(p), 0.1, 0.9, 0.01, true), List.of("0.momentum"));
        Tensor p = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        SGD plain = new SGD(List.of(p), 0.1);
        stepOnSquares(p, plain);
        assertTrue(plain.state().isEmpty(), "plain SGD keeps no state");
    }

    @Test
    void adamStateRoundTripContinuesIdentically() {
        List<String> names = List.of("0.step", "0.exp_avg", "0.exp_avg_sq");
        assertStateRoundTripContinuesIdentically(p -> new Adam(List.of(p), 0.1, 0.9, 0.999, 1e-8, 0.01), names);
        assertStateRoundTripContinuesIdentically(p -> new AdamW(List.of(p), 0.1, 0.8, 0.99, 1e-6, 0.05), names);
    }

    @Test
    void adamStateHoldsTheStepCountAndMoments() {
        Tensor p = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        Tensor unused = Tensor.of(new double[] {3, 4}, 2).requiresGrad(true);
        Adam adam = new Adam(List.of(p, unused), 0.1);
        stepOnSquares(p, adam);
        stepOnSquares(p, adam);
        Map<String, Tensor> state = adam.state();
        assertEquals(3, state.size(), "a parameter never stepped has no state: " + state.keySet());
        assertEquals(2.0, state.get("0.step").item(), 0.0);
        assertEquals(0, state.get("0.step").rank());
        // m after two steps: 0.9 * 0.2 + 0.1 * g2, with g2 = 2 * p1 the second gradient
        double p1 = 1 - 0.2 / (2 + 1e-8);
        assertEquals(0.9 * 0.2 + 0.1 * 2 * p1, state.get("0.exp_avg").toDoubleArray()[0], 1e-12);
        assertEquals(0.999 * 0.004 + 0.001 * 4 * p1 * p1, state.get("0.exp_avg_sq").toDoubleArray()[0], 1e-12);
    }

    @Test
    void optimizerStateOutlivesTensorScopes() {
        double[] start = {1, -2, 0.5};
        Tensor scoped = Tensor.of(start, 3).requiresGrad(true);
        Tensor unscoped = Tensor.of(start, 3).requiresGrad(true);
        List<Optimizer> inScope = List.of(new Adam(List.of(scoped), 0.1), new SGD(List.of(scoped), 0.1, 0.9, 0, true));
        List<Optimizer> outside = List.of(new Adam(List.of(unscoped), 0.1), new SGD(List.of(unscoped), 0.1, 0.9, 0, true));
        Map<String, Tensor> exported;
        for (int i = 0; i < 3; i++) {
            for (int k = 0; k < 2; k++) {
                try (TensorScope step = TensorScope.open()) {
                    stepOnQuadratic(scoped, inScope.get(k)); // buffers made here must survive the scope
                }
                stepOnQuadratic(unscoped, outside.get(k));
            }
        }
        assertArrayEquals(unscoped.toDoubleArray(), scoped.toDoubleArray(), 0.0);
        try (TensorScope restore = TensorScope.open()) {
            exported = outside.get(0).state();
            inScope.get(0).loadState(exported); // same state: the loaded copies must survive this scope too
        }
        assertTrue(exported.get("0.exp_avg").isClosed(), "state() copies belong to the caller's scope");
        stepOnQuadratic(scoped, inScope.get(0));
        stepOnQuadratic(unscoped, outside.get(0));
        assertArrayEquals(unscoped.toDoubleArray(), scoped.toDoubleArray(), 0.0);
    }

    @Test
    void loadStateRejectsBadNamesShapesAndDtypes() {
        Tensor p = Tensor.of(new double[] {1, 2, 3}, 3).requiresGrad(true);
        Adam adam = new Adam(List.of(p), 0.1);
        stepOnQuadratic(p, adam);
        Map<String, Tensor> good = adam.state();

        Map<String, Tensor> unknown = new HashMap<>(good);
        unknown.put("0.momentum", Tensor.zeros(DType.FLOAT64, 3));
        assertMessageContains(() -> adam.loadState(unknown), "'0.momentum'");

        Map<String, Tensor> notCanonical = new HashMap<>();
        notCanonical.put("00.step", Tensor.scalar(1));
        notCanonical.put("0.exp_avg", Tensor.zeros(DType.FLOAT64, 3));
        notCanonical.put("0.exp_avg_sq", Tensor.zeros(DType.FLOAT64, 3));
        assertMessageContains(() -> adam.loadState(notCanonical), "'00.step'");

        Map<String, Tensor> outOfRange = new HashMap<>();
        outOfRange.put("1.step", Tensor.scalar(1));
        outOfRange.put("1.exp_avg", Tensor.zeros(DType.FLOAT64, 3));
        outOfRange.put("1.exp_avg_sq", Tensor.zeros(DType.FLOAT64, 3));
        assertMessageContains(() -> adam.loadState(outOfRange), "'1.step'");

        Map<String, Tensor> incomplete = new HashMap<>(good);
        incomplete.remove("0.exp_avg_sq");
        assertMessageContains(() -> adam.loadState(incomplete), "parameter 0 has only some");

        Map<String, Tensor> wrongShape = new HashMap<>(good);
        wrongShape.put("0.exp_avg", Tensor.zeros(DType.FLOAT64, 2));
        assertMessageContains(() -> adam.loadState(wrongShape), "has shape [2] but its parameter has shape [3]");

        Map<String, Tensor> wrongDtype = new HashMap<>(good);
        wrongDtype.put("0.exp_avg_sq", Tensor.zeros(DType.FLOAT32, 3));
        assertMessageContains(() -> adam.loadState(wrongDtype), "is FLOAT32 but its parameter is FLOAT64");

        Map<String, Tensor> badStep = new HashMap<>(good);
        badStep.put("0.step", Tensor.scalar(1.5));
        assertMessageContains(() -> adam.loadState(badStep), "step count >= 1, got 1.5");

        SGD plain = new SGD(List.of(p), 0.1);
        assertMessageContains(() -> plain.loadState(Map.of("0.momentum", Tensor.zeros(DType.FLOAT64, 3))), "keeps no state");

        // a rejected load changes nothing: the next step is the one an untouched optimizer takes
        Tensor twin = Tensor.of(new double[] {1, 2, 3}, 3).requiresGrad(true);
        Adam untouched = new Adam(List.of(twin), 0.1);
        stepOnQuadratic(twin, untouched);
        stepOnQuadratic(p, adam);
        stepOnQuadratic(twin, untouched);
        assertArrayEquals(twin.toDoubleArray(), p.toDoubleArray(), 0.0);

        adam.loadState(Map.of()); // an empty state restarts the moments and the step count
        assertTrue(adam.state().isEmpty());
    }

    @Test
    void optimizersRejectBadHyperparametersWithTheValues() {
        Tensor p = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        List<Tensor> ps = List.of(p);
        assertMessageContains(() -> new SGD(ps, 0.1, 0.0, 0.0, true), "Nesterov momentum needs momentum > 0, got momentum=0.0");
        assertMessageContains(() -> new SGD(ps, -0.1), "lr=-0.1");
        assertMessageContains(() -> new Adam(ps, 0.1, 1.0, 0.999, 1e-8, 0), "beta1=1.0");
        assertMessageContains(() -> new AdamW(ps, 0.1, 0.9, -0.5, 1e-8, 0), "beta2=-0.5");
        assertMessageContains(() -> new Adam(ps, 0.1, 0.9, 0.999, -1e-8, 0), "eps=-1.0E-8");
        assertMessageContains(() -> new AdamW(ps, 0.1, 0.9, 0.999, 1e-8, -0.01), "weightDecay=-0.01");
        assertMessageContains(() -> new Adam(ps, Double.NaN), "lr=NaN");
        assertMessageContains(() -> new Adam(List.of(Tensor.of(new double[] {1}, 1)), 0.1), "does not require grad");
        assertMessageContains(() -> new SGD(ps, 0.1).setLearningRate(-1), "got -1.0");
        assertMessageContains(() -> new AdamW(ps, 0.1).setLearningRate(Double.POSITIVE_INFINITY), "got Infinity");
        assertMessageContains(() -> new StepLR(0.1, 0, 0.5), "stepSize=0");
        assertMessageContains(() -> new StepLR(0.1, 2, 0.5).lr(-1), "got -1");
        assertMessageContains(() -> new CosineAnnealingLR(0.1, 0, 0.0), "tMax=0");
        assertMessageContains(() -> new CosineAnnealingLR(0.1, 10, -1), "etaMin=-1.0");
        assertMessageContains(() -> new Dropout(1.0, 0), "p=1.0");
        assertMessageContains(() -> new Dropout(-0.1, 0), "p=-0.1");
        assertMessageContains(() -> new Dropout(Double.NaN, 0), "p=NaN");
    }

    private static void assertMessageContains(org.junit.jupiter.api.function.Executable call, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' lacks '" + fragment + "'");
    }

    // ---------------------------------------------------------------- dropout

    @Test
    void dropoutZeroesAboutPAndPreservesTheMean() {
        int n = 200_000;
        double p = 0.3;
        Dropout dropout = new Dropout(p, 7);
        assertTrue(dropout.isTraining(), "modules start in training mode");
        double[] y = dropout.forward(Tensor.ones(DType.FLOAT64, n)).toDoubleArray();
        int zeros = 0;
        double sum = 0;
        for (double v : y) {
            if (v == 0.0) {
                zeros++;
            } else {
                assertEquals(1 / (1 - p), v, 1e-15, "kept elements are scaled by 1/(1-p)");
            }
            sum += v;
        }
        // binomial: the zero fraction has std sqrt(0.3 * 0.7 / 2e5) = 0.001; the mean's std is 0.0015
        assertEquals(p, zeros / (double) n, 0.006);
        assertEquals(1.0, sum / n, 0.008);
    }

    @Test
    void dropoutMasksAreReproducibleAcrossDtypesAndDifferPerCall() {
        Tensor x = Tensor.randn(DType.FLOAT64, 11, 50, 40);
        double[] first = new Dropout(0.5, 3).forward(x).toDoubleArray();
        Dropout again = new Dropout(0.5, 3);
        assertArrayEquals(first, again.forward(x).toDoubleArray(), 0.0, "same seed, same first mask");
        double[] second = again.forward(x).toDoubleArray();
        double[] asFloat = new Dropout(0.5, 3).forward(x.to(DType.FLOAT32)).toDoubleArray();
        double[] xs = x.toDoubleArray();
        int differ = 0;
        for (int i = 0; i < xs.length; i++) {
            assertEquals(first[i] == 0, asFloat[i] == 0, "FLOAT32 and FLOAT64 share the mask, element " + i);
            assertTrue(first[i] == 0 || first[i] == 2 * xs[i], "kept elements are x / (1 - p)");
            if ((first[i] == 0) != (second[i] == 0)) {
                differ++;
            }
        }
        assertTrue(differ > xs.length / 4, "the second call draws a fresh mask; only " + differ + " differ");
        assertNotEquals(0, differ);
    }

    /**
     * Tensor.dropout (one backend call each way, the mask drawn where it multiplies) gives bit for
     * bit what its contract composes: the draws of Tensor.rand(FLOAT64, seed), a mask of 0 and
     * (dtype) 1/(1-p), and x times it; the gradient and the JVP multiply by the same mask. Inputs
     * hold a NaN, infinities and -0.0 (a dropped infinity is NaN, as x * 0 is); checked through the
     * backend's override and through the SPI default, behind a proxy that withholds the override.
     */
    @Test
    void dropoutIsTheRandMaskTimesXBitForBit() {
        Backend inner = backend();
        Backend defaultOnly = withSpiDefaults(inner, name -> name.equals("dropout"));
        int[] shape = {7, 301};
        for (Backend b : new Backend[] {inner, defaultOnly}) {
            try (Backends.Scope ignored = Backends.use(b)) {
                for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
                    for (double p : new double[] {0.0, 0.1, 0.5, 0.97}) {
                        long seed = 1000 + Math.round(p * 100);
                        double[] values = Tensor.randn(DType.FLOAT64, seed, shape).toDoubleArray();
                        values[3] = Double.NaN;
                        values[10] = Double.POSITIVE_INFINITY;
                        values[11] = Double.NEGATIVE_INFINITY;
                        values[12] = -0.0;
                        Tensor x = Tensor.of(values, shape).to(dtype).requiresGrad(true);
                        double[] u = Tensor.rand(DType.FLOAT64, seed, shape).toDoubleArray();
                        double[] maskValues = new double[u.length];
                        for (int i = 0; i < u.length; i++) {
                            maskValues[i] = u[i] >= p ? 1.0 / (1.0 - p) : 0.0; // rounded to float by to(dtype)
                        }
                        Tensor mask = Tensor.of(maskValues, shape).to(dtype);
                        String what = b.name() + " " + dtype + " p=" + p;

                        Tensor y = x.dropout(p, seed);
                        assertArrayEquals(x.detach().mul(mask).toDoubleArray(), y.toDoubleArray(), what + " forward");
                        Tensor upstream = Tensor.randn(dtype, 77, shape);
                        y.backward(upstream);
                        assertArrayEquals(upstream.mul(mask).toDoubleArray(), x.grad().toDoubleArray(), what + " gradient");
                        Tensor tangent = Tensor.randn(dtype, 78, shape);
                        assertArrayEquals(tangent.mul(mask).toDoubleArray(),
                                Autograd.jvp(t -> t.dropout(p, seed), x.detach(), tangent).toDoubleArray(), what + " jvp");
                    }
                }
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> Tensor.ones(DType.FLOAT32, 3).dropout(1.0, 1));
                assertTrue(e.getMessage().contains("p=1.0"), e.getMessage());
            }
        }
    }

    @Test
    void dropoutInEvalModeIsTheIdentity() {
        Tensor x = Tensor.randn(DType.FLOAT32, 5, 8, 8);
        Dropout dropout = new Dropout(0.9, 1);
        Sequential net = new Sequential(new Linear(8, 8, 2), dropout);
        net.eval();
        assertFalse(dropout.isTraining(), "Sequential passes eval() on");
        assertArrayEquals(x.toDoubleArray(), dropout.forward(x).toDoubleArray(), 0.0);
        net.train();
        assertTrue(dropout.isTraining(), "Sequential passes train() on");
        assertArrayEquals(x.toDoubleArray(), new Dropout(0.0, 1).forward(x).toDoubleArray(), 0.0, "p = 0 keeps everything");
    }

    @Test
    void dropoutGradientFlowsOnlyThroughKeptUnits() {
        double p = 0.25;
        Tensor x = Tensor.rand(DType.FLOAT64, 5, 400).add(1).requiresGrad(true); // in [1, 2): no zeros of its own
        Tensor w = Tensor.randn(DType.FLOAT64, 6, 400);
        Tensor y = new Dropout(p, 9).forward(x);
        y.mul(w).sum().backward();
        double[] ys = y.toDoubleArray();
        double[] gs = x.grad().toDoubleArray();
        double[] ws = w.toDoubleArray();
        int kept = 0;
        for (int i = 0; i < ys.length; i++) {
            // d(sum(w * x * mask))/dx = w * mask, mask = 1/(1-p) where kept, 0 where dropped
            double expected = ys[i] == 0 ? 0.0 : ws[i] / (1 - p);
            assertEquals(expected, gs[i], 1e-12, "element " + i);
            kept += ys[i] == 0 ? 0 : 1;
        }
        assertTrue(kept > 0 && kept < ys.length, "some kept, some dropped: " + kept);
    }
}
