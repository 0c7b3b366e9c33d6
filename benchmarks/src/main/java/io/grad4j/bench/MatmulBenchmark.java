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
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/** C = A @ B for n x n FLOAT32 matrices; GFLOP/s = 2 n^3 / time. The result is freed each call. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
        "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class MatmulBenchmark {
    @Param({"cpu"})
    public String backend;

    @Param({"256", "1024", "2048"})
    public int n;

    private Backends.Scope backendScope;
    private Backend device;
    private Tensor a;
    private Tensor b;

    @Setup(Level.Trial)
    public void setUp() {
        device = Backends.get(backend);
        backendScope = Backends.use(device);
        a = Tensor.randn(DType.FLOAT32, 1, n, n);
        b = Tensor.randn(DType.FLOAT32, 2, n, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backendScope.close();
    }

    @Benchmark
    public int matmul() {
        try (TensorScope s = TensorScope.open()) {
            Tensor c = a.matmul(b);
            device.synchronize();
            return c.rank();
        }
    }
}
