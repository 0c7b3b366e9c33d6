package io.grad4j.bench;

import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;
import io.grad4j.optim.Adam;
import io.grad4j.optim.AdamW;
import io.grad4j.optim.Optimizer;
import io.grad4j.optim.SGD;
import io.grad4j.DType;
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
 * One optimizer step over the parameters of the MLP 784-512-256-10 (535,818 floats in six
 * tensors), with gradients from one backward pass kept fixed: what {@code opt.step()} costs on
 * its own, and on a GPU how its launches add up ({@code Backend.synchronize()} ends each call).
 * Each step runs in a {@code TensorScope}, as in training, so temporaries are freed at once.
 * {@code sgd}: plain SGD; {@code momentum}: SGD with momentum 0.9 (grad4j train's default);
 * {@code adam}, {@code adamw}: with weight decay 0 and 0.01.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {ForkFlags.NATIVE_ACCESS, ForkFlags.JMH_UNSAFE})
public class OptimizerStepBenchmark {
    @Param({"cpu"})
    public String backend;

    @Param({"sgd", "momentum", "adam", "adamw"})
    public String optimizer;

    private Backends.Scope backendScope;
    private Backend device;
    private Optimizer opt;

    @Setup(Level.Trial)
    public void setUp() {
        device = Backends.get(backend);
        backendScope = Backends.use(device);
        Sequential model = new Sequential(new Linear(784, 512, 1), new ReLU(), new Linear(512, 256, 2), new ReLU(),
                new Linear(256, 10, 3));
        opt = switch (optimizer) {
            case "sgd" -> new SGD(model.parameters(), 1e-3);
            case "momentum" -> new SGD(model.parameters(), 1e-3, 0.9, 0.0);
            case "adam" -> new Adam(model.parameters(), 1e-4);
            case "adamw" -> new AdamW(model.parameters(), 1e-4);
            default -> throw new IllegalArgumentException("optimizer must be sgd, momentum, adam or adamw, got " + optimizer);
        };
        try (TensorScope s = TensorScope.open()) {
            Tensor x = Tensor.rand(DType.FLOAT32, 4, 128, 784);
            int[] labels = new Random(5).ints(128, 0, 10).toArray();
            Losses.crossEntropy(model.forward(x), labels).backward();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backendScope.close();
    }

    /** Inside a TensorScope, as a training step runs it: temporaries are freed when it closes. */
    @Benchmark
    public void step() {
        try (TensorScope s = TensorScope.open()) {
            opt.step();
        }
        device.synchronize();
    }
}
