package io.grad4j.bench;

import io.grad4j.DType;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.backend.Storage;
import io.grad4j.backend.UnaryOp;
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

/**
 * tanh forward (y = tanh x) and its fused backward (out = g * (1 - y^2)) on 16M floats, through
 * the backend primitives into preallocated outputs. Fewest bytes moved per element: forward 8
 * (read x, write y), backward 12 (read y and g, write out); GB/s in docs use these counts.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
        "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class ElementwiseBenchmark {
    @Param({"cpu"})
    public String backend;

    @Param({"16777216"})
    public int size;

    private Backend device;
    private Storage x;
    private Storage y;
    private Storage g;
    private Storage out;

    @Setup(Level.Trial)
    public void setUp() {
        device = Backends.get(backend);
        float[] host = new float[size];
        java.util.SplittableRandom r = new java.util.SplittableRandom(1);
        for (int i = 0; i < size; i++) {
            host[i] = (float) (r.nextDouble() * 8 - 4);
        }
        x = device.upload(host);
        g = device.upload(host);
        y = device.allocate(DType.FLOAT32, size);
        out = device.allocate(DType.FLOAT32, size);
        device.unary(UnaryOp.TANH, 0, x, y);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Storage s : new Storage[] {x, y, g, out}) {
            s.release();
        }
    }

    @Benchmark
    public void tanhForward() {
        device.unary(UnaryOp.TANH, 0, x, out);
        device.synchronize();
    }

    @Benchmark
    public void tanhBackward() {
        device.unaryBackward(UnaryOp.TANH, 0, x, y, g, out);
        device.synchronize();
    }
}
