package io.grad4j.bench;

import io.grad4j.DType;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.backend.BinaryOp;
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
 * Memory-bound primitives on {@code size} FLOAT32 elements (16M by default, 64M in the GPU check),
 * through the backend primitives into preallocated outputs: tanh forward (y = tanh x), its fused
 * backward (out = g * (1 - y^2)), a broadcast add ([size / cols, cols] + [cols], the bias add of
 * a layer, as {@code Tensor.add} passes it: strides [cols, 1] and [0, 1]) and a device-to-device
 * copy ({@code Backend.copy}, what {@code Tensor} copies run on), the bandwidth the others are
 * measured against. Fewest bytes moved, from which GB/s = bytes / time:
 * <pre>
 *   copy          8 * size             (read x, write out)
 *   tanhForward   8 * size             (read x, write out)
 *   tanhBackward 12 * size             (read y and g, write out)
 *   broadcastAdd  8 * size + 4 * cols  (read x and the bias row, write out)
 * </pre>
 * An invocation runs the operation {@code calls} times and then synchronizes once, so the time of
 * one operation is score / calls (calls = 1 by default; the GPU check runs 4, as its PyTorch peer
 * does with {@code --calls 4}, to spread the synchronize). benchmarks/peers/gpu_report.py uses
 * these counts; pytorch_bench.py measures the same four.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {ForkFlags.NATIVE_ACCESS, ForkFlags.JMH_UNSAFE})
public class ElementwiseBenchmark {
    @Param({"cpu"})
    public String backend;

    @Param({"16777216"})
    public int size;

    /** Row length of the broadcast add; size must be a multiple of it. */
    @Param({"1024"})
    public int cols;

    /** Operations per invocation, before its one synchronize. */
    @Param({"1"})
    public int calls;

    private Backend device;
    private Storage x;
    private Storage y;
    private Storage g;
    private Storage out;
    private Storage bias;
    private long[] rowStrides;
    private long[] biasStrides;
    private int[] matrixShape;

    @Setup(Level.Trial)
    public void setUp() {
        if (cols <= 0 || size % cols != 0) {
            throw new IllegalArgumentException("size " + size + " must be a positive multiple of cols " + cols);
        }
        if (calls < 1) {
            throw new IllegalArgumentException("calls must be at least 1, got " + calls);
        }
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
        bias = device.upload(java.util.Arrays.copyOf(host, cols));
        matrixShape = new int[] {size / cols, cols};
        rowStrides = new long[] {cols, 1};
        biasStrides = new long[] {0, 1};
        device.unary(UnaryOp.TANH, 0, x, y);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Storage s : new Storage[] {x, y, g, out, bias}) {
            s.release();
        }
    }

    @Benchmark
    public void tanhForward() {
        for (int i = 0; i < calls; i++) {
            device.unary(UnaryOp.TANH, 0, x, out);
        }
        device.synchronize();
    }

    @Benchmark
    public void tanhBackward() {
        for (int i = 0; i < calls; i++) {
            device.unaryBackward(UnaryOp.TANH, 0, x, y, g, out);
        }
        device.synchronize();
    }

    @Benchmark
    public void broadcastAdd() {
        for (int i = 0; i < calls; i++) {
            device.binary(BinaryOp.ADD, x, rowStrides, bias, biasStrides, out, matrixShape);
        }
        device.synchronize();
    }

    @Benchmark
    public void copy() {
        for (int i = 0; i < calls; i++) {
            device.copy(x, out);
        }
        device.synchronize();
    }
}
