package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.JacobianMode;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.RandomExpressions.Case;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What grad4j promises about threads, on a backend: independent graphs built and differentiated on
 * several threads at once give bit-for-bit the gradients of a sequential run (also when they share
 * read-only parameters); noGrad, anomaly mode and TensorScope belong to the thread that opened
 * them. What is not promised is in README.md, "Threads".
 */
public abstract class ConcurrencyConformanceTest extends BackendTestBase {
    static final int THREADS = 4;
    static final int ITERATIONS = 50;

    /** Iterations per thread; a backend whose every launch is slow (an emulated GPU) may run fewer. */
    protected int iterations() {
        return ITERATIONS;
    }
    private static final long WAIT_SECONDS = 60;

    /** Runs task(thread) on THREADS threads released together, each with the backend under test. */
    private <T> List<T> onThreads(ThreadTask<T> task) throws Exception {
        CyclicBarrier start = new CyclicBarrier(THREADS);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                futures.add(pool.submit((Callable<T>) () -> {
                    try (Backends.Scope ignored = Backends.use(backend())) {
                        start.await(WAIT_SECONDS, TimeUnit.SECONDS);
                        return task.run(thread);
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(WAIT_SECONDS * 5, TimeUnit.SECONDS));
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    @FunctionalInterface
    private interface ThreadTask<T> {
        T run(int thread) throws Exception;
    }

    private static long seed(int thread, int iteration) {
        return 1_000_003L * (thread + 1) + 7919L * iteration;
    }

    /**
     * One iteration's numbers: a small network's loss and its parameters' .grad after backward()
     * (FLOAT64 and FLOAT32), the gradient through a 64x64 product (a real BLAS call on cpu, not a toy
     * size), and gradients and a forward-mode Jacobian of a random expression.
     */
    private static double[] iteration(long seed) {
        List<double[]> parts = new ArrayList<>();
        try (TensorScope step = TensorScope.open()) {
            for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
                Tensor x = Tensor.randn(dtype, seed, 8, 16);
                Tensor w1 = Tensor.randn(dtype, seed + 1, 16, 32).requiresGrad(true);
                Tensor b1 = Tensor.randn(dtype, seed + 2, 32).requiresGrad(true);
                Tensor w2 = Tensor.randn(dtype, seed + 3, 32, 5).requiresGrad(true);
                int[] labels = {0, 1, 2, 3, 4, 0, 1, (int) Math.floorMod(seed, 5)};
                Tensor loss = x.matmul(w1).add(b1).tanh().matmul(w2).crossEntropyPerRow(labels).mean();
                loss.backward();
                parts.add(new double[] {loss.item()});
                parts.add(w1.grad().toDoubleArray());
                parts.add(b1.grad().toDoubleArray());
                parts.add(w2.grad().toDoubleArray());
            }
            Tensor a = Tensor.randn(DType.FLOAT64, seed + 4, 64, 64).requiresGrad(true);
            parts.add(Autograd.grad(a.matmul(a.transpose()).softmax(1).mul(a).sum(), a)[0].toDoubleArray());

            Case c = RandomExpressions.generate(seed, 5, 32);
            Tensor[] in = c.inputs();
            Function<Tensor[], Tensor> f = c.function(c.root());
            Tensor[] leaves = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) {
                leaves[i] = in[i].detach().requiresGrad(true);
            }
            Tensor y = f.apply(leaves).sum();
            for (Tensor g : Autograd.grad(y, leaves)) {
                parts.add(g.toDoubleArray());
            }
            Function<Tensor, Tensor> f0 = x0 -> {
                Tensor[] args = in.clone();
                args[0] = x0;
                return f.apply(args);
            };
            parts.add(Autograd.jacobian(f0, in[0], JacobianMode.FORWARD).toDoubleArray());
        }
        int n = parts.stream().mapToInt(p -> p.length).sum();
        double[] all = new double[n];
        int at = 0;
        for (double[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    @Test
    void independentGraphsOnFourThreadsGiveTheSequentialGradientsExactly() throws Exception {
        double[][][] expected = new double[THREADS][iterations()][];
        for (int t = 0; t < THREADS; t++) {
            for (int i = 0; i < iterations(); i++) {
                expected[t][i] = iteration(seed(t, i));
            }
        }
        List<double[][]> got = onThreads(thread -> {
            double[][] mine = new double[iterations()][];
            for (int i = 0; i < iterations(); i++) {
                mine[i] = iteration(seed(thread, i));
            }
            return mine;
        });
        for (int t = 0; t < THREADS; t++) {
            for (int i = 0; i < iterations(); i++) {
                assertArrayEquals(expected[t][i], got.get(t)[i],
                        "thread " + t + " iteration " + i + " (seed " + seed(t, i) + ") differs from the sequential run");
            }
        }
    }

    /** Data parallelism: read-only parameters shared by every thread, Autograd.grad per thread (no .grad writes). */
    @Test
    void sharedReadOnlyParametersGiveEachThreadItsOwnGradient() throws Exception {
        Tensor w = Tensor.randn(DType.FLOAT64, 5, 16, 8).requiresGrad(true);
        Tensor b = Tensor.randn(DType.FLOAT64, 6, 8).requiresGrad(true);
        Function<Long, double[]> step = seed -> {
            Tensor x = Tensor.randn(DType.FLOAT64, seed, 4, 16);
            Tensor loss = x.matmul(w).add(b).logSoftmax(1).mean();
            Tensor[] g = Autograd.grad(loss, w, b);
            double[] gw = g[0].toDoubleArray();
            double[] gb = g[1].toDoubleArray();
            double[] out = Arrays.copyOf(gw, gw.length + gb.length);
            System.arraycopy(gb, 0, out, gw.length, gb.length);
            return out;
        };
        double[][][] expected = new double[THREADS][iterations()][];
        for (int t = 0; t < THREADS; t++) {
            for (int i = 0; i < iterations(); i++) {
                expected[t][i] = step.apply(seed(t, i));
            }
        }
        List<double[][]> got = onThreads(thread -> {
            double[][] mine = new double[iterations()][];
            for (int i = 0; i < iterations(); i++) {
                mine[i] = step.apply(seed(thread, i));
            }
            return mine;
        });
        for (int t = 0; t < THREADS; t++) {
            for (int i = 0; i < iterations(); i++) {
                assertArrayEquals(expected[t][i], got.get(t)[i], "thread " + t + " iteration " + i);
            }
        }
        assertNull(w.grad(), "Autograd.grad must not write the shared parameter's .grad");
    }

    @Test
    void noGradOnOneThreadLeavesAnotherRecording() throws Exception {
        Tensor w = Tensor.randn(DType.FLOAT64, 1, 3).requiresGrad(true);
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch otherDone = new CountDownLatch(1);
        List<Boolean> results = onThreads2(
                () -> {
                    try (NoGrad ignored = Autograd.noGrad()) {
                        inside.countDown();
                        await(otherDone);
                        return w.mul(w).requiresGrad();
                    }
                },
                () -> {
                    await(inside);
                    try {
                        return w.mul(w).requiresGrad();
                    } finally {
                        otherDone.countDown();
                    }
                });
        assertFalse(results.get(0), "inside noGrad nothing is recorded");
        assertTrue(results.get(1), "another thread's noGrad must not switch off recording here");
    }

    @Test
    void anomalyModeOnOneThreadDoesNotCheckAnother() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch otherDone = new CountDownLatch(1);
        // d sqrt(x)/dx at 0 is +inf: anomaly mode names sqrt, ordinary mode just returns inf
        List<String> results = onThreads2(
                () -> {
                    try (NoGrad ignored = Autograd.detectAnomaly()) {
                        inside.countDown();
                        await(otherDone);
                        Tensor x = Tensor.zeros(DType.FLOAT64, 2).requiresGrad(true);
                        ArithmeticException e = assertThrows(ArithmeticException.class, () -> x.sqrt().sum().backward());
                        return e.getMessage();
                    }
                },
                () -> {
                    await(inside);
                    try {
                        Tensor x = Tensor.zeros(DType.FLOAT64, 2).requiresGrad(true);
                        x.sqrt().sum().backward();
                        return Arrays.toString(x.grad().toDoubleArray());
                    } finally {
                        otherDone.countDown(); // also when it failed: the other thread must not wait for nothing
                    }
                });
        assertTrue(results.get(0).contains("sqrt"), results.get(0));
        assertEquals("[Infinity, Infinity]", results.get(1));
    }

    @Test
    void aTensorScopeClosesOnlyItsOwnThreadsTensors() throws Exception {
        CountDownLatch scopeOpen = new CountDownLatch(1);
        CountDownLatch otherMade = new CountDownLatch(1);
        CountDownLatch scopeClosed = new CountDownLatch(1);
        Tensor[] made = new Tensor[4]; // 0: inside A's scope on A; 1: on B, no scope; 2: on B in B's own scope
        List<Object> results = onThreads2(
                () -> {
                    TensorScope scope = TensorScope.open();
                    try {
                        made[0] = Tensor.ones(DType.FLOAT64, 3).mul(2);
                        scopeOpen.countDown();
                        await(otherMade);
                    } finally {
                        scope.close();
                        scopeClosed.countDown();
                    }
                    return "closed";
                },
                () -> {
                    await(scopeOpen);
                    made[1] = Tensor.ones(DType.FLOAT64, 3).mul(3);
                    try (TensorScope mine = TensorScope.open()) {
                        try {
                            made[2] = Tensor.ones(DType.FLOAT64, 3).mul(4);
                        } finally {
                            otherMade.countDown();
                        }
                        await(scopeClosed);
                        made[3] = made[2].add(1); // B's scope is still open and its tensors usable
                        assertFalse(made[2].isClosed());
                    }
                    return "done";
                });
        assertEquals(2, results.size());
        assertTrue(made[0].isClosed(), "the scope closes what its own thread made in it");
        assertFalse(made[1].isClosed(), "a scope on another thread must not close this thread's tensors");
        assertArrayEquals(new double[] {3, 3, 3}, made[1].toDoubleArray());
        assertTrue(made[2].isClosed() && made[3].isClosed(), "each thread's scope closes its own tensors");
    }

    @Test
    void autogradScopesAndTensorScopesRefuseToBeClosedOnAnotherThread() throws Exception {
        NoGrad noGrad = Autograd.noGrad();
        TensorScope scope = TensorScope.open();
        try {
            List<String> results = onThreads2(
                    () -> assertThrows(IllegalStateException.class, noGrad::close).getMessage(),
                    () -> assertThrows(IllegalStateException.class, scope::close).getMessage());
            assertTrue(results.get(0).contains("thread"), results.get(0));
            assertTrue(results.get(1).contains("thread"), results.get(1));
        } finally {
            scope.close();
            noGrad.close();
        }
        assertTrue(io.grad4j.autograd.GradMode.isEnabled(), "closed on its own thread, noGrad ends");
    }

    /** Runs two different tasks on two threads with the backend under test; returns their results in order. */
    private <T> List<T> onThreads2(Callable<T> first, Callable<T> second) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (Callable<T> task : List.of(first, second)) {
                futures.add(pool.submit(() -> {
                    try (Backends.Scope ignored = Backends.use(backend())) {
                        return task.call();
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(WAIT_SECONDS, TimeUnit.SECONDS));
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void await(CountDownLatch latch) throws InterruptedException {
        if (!latch.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
            throw new AssertionError("the other thread did not reach its step in " + WAIT_SECONDS + " s");
        }
    }
}
