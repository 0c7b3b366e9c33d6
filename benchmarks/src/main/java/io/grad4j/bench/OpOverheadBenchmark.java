package io.grad4j.bench;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * What one tiny op costs: c = a + b on 100-element FLOAT32 tensors, 100 ops per invocation, without
 * autograd, and with autograd (a requires grad; the 100 results are summed and backpropagated).
 * Each invocation ends with {@code Backend.synchronize()} (nothing on cpu), so on a GPU the time
 * per op is that of 100 queued launches and one wait, as the PyTorch peer times {@code a + b}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {ForkFlags.NATIVE_ACCESS, ForkFlags.JMH_UNSAFE})
public class OpOverheadBenchmark {
    private static final int OPS = 100;

    @Param({"cpu"})
    public String backend;

    private Backends.Scope backendScope;
    private Backend device;
    private Tensor a;
    private Tensor b;
    private Tensor leaf;

    @Setup(Level.Trial)
    public void setUp() {
        device = Backends.get(backend);
        backendScope = Backends.use(device);
        a = Tensor.rand(DType.FLOAT32, 1, 100);
        b = Tensor.rand(DType.FLOAT32, 2, 100);
        leaf = Tensor.rand(DType.FLOAT32, 3, 100).requiresGrad(true);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backendScope.close();
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public Tensor addWithoutAutograd() {
        Tensor c = null;
        try (TensorScope s = TensorScope.open()) {
            for (int i = 0; i < OPS; i++) {
                c = a.add(b);
            }
            device.synchronize();
            return TensorScope.keep(c);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public Tensor addWithAutogradAndBackward() {
        try (TensorScope s = TensorScope.open()) {
            Tensor acc = leaf.add(b);
            for (int i = 1; i < OPS; i++) {
                acc = acc.add(b);
            }
            acc.sum().backward();
            leaf.zeroGrad();
            device.synchronize();
            return TensorScope.keep(acc.detach());
        }
    }
}
