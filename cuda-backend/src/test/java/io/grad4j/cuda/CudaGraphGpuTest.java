package io.grad4j.cuda;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.backend.Backends;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;
import io.grad4j.optim.SGD;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CUDA graph capture and replay of a training step: replaying must give, bit for bit, what the
 * same steps run eagerly give; what a capture cannot record is refused with a clear message and
 * leaves the backend usable.
 */
@RequiresGpu
class CudaGraphGpuTest {
    private static final int BATCH = 64;
    private static final int IN = 40;
    private static final int CLASSES = 7;

    private CudaBackend cuda;
    private Backends.Scope scope;

    @BeforeEach
    void useCuda() {
        cuda = (CudaBackend) Backends.get("cuda");
        scope = Backends.use(cuda);
    }

    @AfterEach
    void restore() {
        scope.close();
    }

    private static List<float[]> batches(int count, Random rnd) {
        List<float[]> xs = new ArrayList<>();
        for (int b = 0; b < count; b++) {
            float[] x = new float[BATCH * IN];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            xs.add(x);
        }
        return xs;
    }

    private static int[] labels(int b) {
        int[] y = new int[BATCH];
        for (int i = 0; i < BATCH; i++) {
            y[i] = (i * 3 + b) % CLASSES;
        }
        return y;
    }

    private static Sequential model() {
        return new Sequential(new Linear(IN, 32, 1), new ReLU(), new Linear(32, CLASSES, 2));
    }

    private static float[] flatParameters(Sequential m) {
        List<float[]> parts = new ArrayList<>();
        int n = 0;
        for (Tensor p : m.parameters()) {
            float[] f = p.toFloatArray();
            parts.add(f);
            n += f.length;
        }
        float[] all = new float[n];
        int at = 0;
        for (float[] f : parts) {
            System.arraycopy(f, 0, all, at, f.length);
            at += f.length;
        }
        return all;
    }

    /**
     * zeroGrad defers its fill on an eager backend; around graphs the zeros must land where eager
     * execution puts them: zeros owed at capture are written before recording (not recorded), and
     * zeroGrad between replays writes at once, so replays add to exactly what eager steps add to.
     */
    @Test
    void zeroGradAroundAGraphBehavesAsWithoutTheGraph() {
        Tensor w = Tensor.of(new float[] {1, 2, 3}, 3).requiresGrad(true);
        w.mul(w).sum().backward();
        w.zeroGrad(); // owed, not written: no graph exists yet
        assertTrue(cuda.canDeferWrites());
        try (CudaGraph g = cuda.capture(() -> {
            try (TensorScope s = TensorScope.open()) {
                w.mul(2f).sum().backward(); // adds 2 to each gradient element
            }
        })) {
            assertTrue(!cuda.canDeferWrites(), "no deferral while a graph is open");
            assertArrayEquals(new float[] {0, 0, 0}, w.grad().toFloatArray(), "the owed zeros, written before the capture");
            g.replay();
            g.replay();
            assertArrayEquals(new float[] {4, 4, 4}, w.grad().toFloatArray(), "two replays accumulate, as two eager steps");
            w.zeroGrad();
            g.replay();
            assertArrayEquals(new float[] {2, 2, 2}, w.grad().toFloatArray(), "zeroGrad between replays zeroes");
        }
        assertTrue(cuda.canDeferWrites());
    }

    /** A replay writes the parameters again behind core's back: it must count those writes, as an eager step does. */
    @Test
    void aReplayCountsTheStepsInPlaceWritesSoAStaleBackwardIsRefused() {
        Tensor w = Tensor.of(new float[] {1, 2, 3}, 3).requiresGrad(true).persistent();
        Tensor x = Tensor.of(new float[] {2, 3, 4}, 3).requiresGrad(true).persistent();
        SGD sgd = new SGD(List.of(w), 0.1);
        w.mul(x).sum().backward(); // w.grad = x
        try (CudaGraph g = cuda.capture(sgd::step)) {
            Tensor y = x.mul(w).sum(); // saves w for x's gradient
            int before = w.version();
            g.replay();
            assertEquals(before + 1, w.version(), "one replay, one more write of w");
            IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
            assertTrue(e.getMessage().contains("modified by an in-place operation"), e.getMessage());
            Tensor fresh = x.mul(w).sum(); // built after the replay: fine
            x.zeroGrad(); // drop the first backward's [1, 2, 3]
            fresh.backward();
            assertArrayEquals(w.toFloatArray(), x.grad().toFloatArray());
        }
        w.close();
        x.close();
    }

    @Test
    void replayingAStepEqualsRunningItEagerly() {
        List<float[]> xs = batches(6, new Random(3));

        Sequential eager = model();
        SGD eagerOpt = new SGD(eager.parameters(), 0.05, 0.9, 0.0);
        List<Double> eagerLosses = new ArrayList<>();
        for (int b = 0; b < xs.size(); b++) {
            try (TensorScope s = TensorScope.open()) {
                eagerOpt.zeroGrad();
                Tensor loss = Losses.crossEntropy(eager.forward(Tensor.of(xs.get(b), BATCH, IN)), labels(b));
                loss.backward();
                eagerOpt.step();
                eagerLosses.add(loss.item());
            }
        }

        Sequential graphed = model();
        SGD opt = new SGD(graphed.parameters(), 0.05, 0.9, 0.0);
        Tensor x = Tensor.zeros(DType.FLOAT32, BATCH, IN).persistent();
        int[] y = new int[BATCH];
        Tensor[] loss = new Tensor[1];
        Runnable step = () -> {
            try (TensorScope s = TensorScope.open()) {
                opt.zeroGrad();
                Tensor l = Losses.crossEntropy(graphed.forward(x), y);
                l.backward();
                opt.step();
                loss[0] = TensorScope.keep(l);
            }
        };
        List<Double> graphLosses = new ArrayList<>();
        x.assign(Tensor.of(xs.get(0), BATCH, IN));
        System.arraycopy(labels(0), 0, y, 0, BATCH);
        step.run(); // eager warm-up: creates the momentum buffers outside the graph
        graphLosses.add(loss[0].item());
        loss[0].close();
        try (CudaGraph graph = cuda.capture(step)) {
            assertEquals(2, graph.hostInputs(), "the labels of the loss and of its backward pass");
            assertTrue(graph.recordedLaunches() > 10, "recorded " + graph.recordedLaunches());
            for (int b = 1; b < xs.size(); b++) {
                try (Tensor fresh = Tensor.of(xs.get(b), BATCH, IN)) {
                    x.assign(fresh);
                }
                System.arraycopy(labels(b), 0, y, 0, BATCH);
                long before = cuda.activity().launches();
                graph.replay();
                assertEquals(before + 1, cuda.activity().launches(), "one graph launch per replay");
                graphLosses.add(loss[0].item());
            }
        }
        assertEquals(eagerLosses, graphLosses);
        assertArrayEquals(flatParameters(eager), flatParameters(graphed));
        loss[0].close();
    }

    @Test
    void readingInsideACaptureIsRefusedAndTheBackendStaysUsable() {
        Tensor a = Tensor.of(new float[]{1, 2, 3}, 3).persistent();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> cuda.capture(() -> a.mul(2.0).sum().item()));
        assertTrue(e.getMessage().contains("inside a CUDA graph capture"), e.getMessage());
        assertEquals(false, cuda.isCapturing());
        assertArrayEquals(new float[]{2, 4, 6}, a.mul(2.0).toFloatArray());
        assertThrows(IllegalStateException.class, () -> cuda.capture(cuda::synchronize));
        assertThrows(IllegalArgumentException.class, () -> cuda.capture(null));
        a.close();
    }

    /** The dropout kernel's seed is an argument a capture records once: every replay would drop the same elements. */
    @Test
    void dropoutInsideACaptureIsRefusedAndTheBackendStaysUsable() {
        Tensor a = Tensor.ones(DType.FLOAT32, 64).persistent();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> cuda.capture(() -> new io.grad4j.nn.Dropout(0.5, 1).forward(a).sum()));
        assertTrue(e.getMessage().contains("dropout inside a CUDA graph capture"), e.getMessage());
        assertEquals(false, cuda.isCapturing());
        float[] kept = new io.grad4j.nn.Dropout(0.5, 1).forward(a).toFloatArray(); // outside a capture it runs
        int twos = 0;
        for (float v : kept) {
            assertTrue(v == 0f || v == 2f, "dropout of ones at p = 0.5 gives 0 or 2, got " + v);
            twos += v == 2f ? 1 : 0;
        }
        assertTrue(kept.length == 64 && twos > 0 && twos < 64, twos + " of " + kept.length + " kept");
        a.close();
    }

    @Test
    void outOfRangeLabelsAreCheckedAtReplay() {
        Tensor logits = Tensor.zeros(DType.FLOAT32, 4, CLASSES).persistent();
        int[] y = {0, 1, 2, 3};
        Tensor[] loss = new Tensor[1];
        try (CudaGraph graph = cuda.capture(() -> loss[0] = Losses.crossEntropy(logits, y).persistent())) {
            graph.replay();
            assertEquals(Math.log(CLASSES), loss[0].item(), 1e-6);
            y[2] = CLASSES;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, graph::replay);
            assertTrue(e.getMessage().contains("out of range"), e.getMessage());
        }
        loss[0].close();
        logits.close();
    }

    @Test
    void aClosedGraphCannotReplayAndGivesItsMemoryBack() {
        Tensor a = Tensor.of(new float[1 << 16], 1 << 16).persistent();
        CudaGraph graph = cuda.capture(() -> {
            try (TensorScope s = TensorScope.open()) {
                a.assign(a.add(1.0));
            }
        });
        graph.replay();
        graph.replay();
        assertEquals(2.0, a.toFloatArray()[12345]);
        long cachedBefore = cuda.memoryStats().cachedBytes();
        graph.close();
        graph.close();
        assertTrue(cuda.memoryStats().cachedBytes() > cachedBefore, "the temporaries' blocks return to the cache");
        assertThrows(IllegalStateException.class, graph::replay);
        a.close();
    }
}
