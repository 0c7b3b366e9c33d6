package io.grad4j.bench;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.cuda.CudaBackend;
import io.grad4j.cuda.CudaGraph;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;
import io.grad4j.optim.SGD;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * One training step of a 784-512-256-10 ReLU MLP: forward, cross-entropy, backward, SGD (lr 0.1),
 * FLOAT32, inside a TensorScope as a training loop runs it. The loss is read back each step, which
 * also makes a GPU step complete before the clock stops.
 *
 * <p>{@code graph=true} (cuda only) captures the step once in a CUDA graph after one eager step
 * and then replays it: the same kernels with one launch per step (issue: CUDA performance).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {ForkFlags.NATIVE_ACCESS, ForkFlags.JMH_UNSAFE})
public class MlpTrainStepBenchmark {
    @Param({"cpu"})
    public String backend;

    @Param({"128", "1024"})
    public int batch;

    @Param({"false"})
    public boolean graph;

    /**
     * {@code -Dgrad4j.bench.profileKernels=true} (cuda, eager steps): print the device time of
     * each kernel over the trial at its end; the step then runs slower (events around each launch).
     */
    private static final boolean PROFILE = Boolean.getBoolean("grad4j.bench.profileKernels");

    private Backends.Scope backendScope;
    private Sequential model;
    private SGD sgd;
    private Tensor x;
    private int[] labels;
    private CudaGraph captured;
    private final Tensor[] capturedLoss = new Tensor[1];

    @Setup(Level.Trial)
    public void setUp() {
        Backend b = Backends.get(backend);
        backendScope = Backends.use(b);
        model = new Sequential(new Linear(784, 512, 1), new ReLU(), new Linear(512, 256, 2), new ReLU(), new Linear(256, 10, 3));
        sgd = new SGD(model.parameters(), 0.1);
        x = Tensor.rand(DType.FLOAT32, 4, batch, 784);
        labels = new Random(5).ints(batch, 0, 10).toArray();
        if (PROFILE && !graph && b instanceof CudaBackend cuda) {
            cuda.profileKernels(true); // device time per kernel over every step of the trial
        }
        if (graph) {
            if (!(b instanceof CudaBackend cuda)) {
                throw new IllegalArgumentException("graph=true needs backend=cuda, got " + b.name());
            }
            trainStep(); // eager: the graph must not own lazily created state
            captured = cuda.capture(this::recordStep);
        }
    }

    private void recordStep() {
        try (TensorScope step = TensorScope.open()) {
            sgd.zeroGrad();
            Tensor loss = Losses.crossEntropy(model.forward(x), labels);
            loss.backward();
            sgd.step();
            capturedLoss[0] = TensorScope.keep(loss);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (PROFILE && !graph && Backends.current() instanceof CudaBackend cuda) {
            System.out.println("GPU time per kernel, MLP train step batch " + batch + ", all iterations of this trial:");
            System.out.println(cuda.kernelProfile());
            cuda.profileKernels(false);
        }
        if (captured != null) {
            captured.close();
            capturedLoss[0].close();
        }
        backendScope.close();
    }

    @Benchmark
    public double trainStep() {
        if (captured != null) {
            captured.replay();
            return capturedLoss[0].item();
        }
        try (TensorScope step = TensorScope.open()) {
            sgd.zeroGrad();
            Tensor loss = Losses.crossEntropy(model.forward(x), labels);
            loss.backward();
            sgd.step();
            return loss.item();
        }
    }
}
