package io.grad4j.bench;

import io.grad4j.DType;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.backend.MatmulShape;
import io.grad4j.backend.Storage;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * C = op(A) @ op(B) for n x n FLOAT32 matrices; GFLOP/s = 2 n^3 / time. {@code layout} names the
 * transposes as BLAS does: NN is A @ B, NT is A @ B^T (B stored n x k), TN is A^T @ B (A stored
 * k x m); PyTorch's peer runs {@code a @ b}, {@code a @ b.t()} and {@code a.t() @ b}.
 *
 * <p>The product goes through the backend's GEMM primitive with {@link MatmulShape}'s transpose
 * flags, the call core itself makes for the gradients g @ B^T and A^T @ g. Since tensors have
 * strided views, {@code a.matmul(b.transpose())} makes the same call (the transpose is a view that
 * reaches the GEMM as a flag, see {@code MatmulBenchmarkLayoutTest.publicApiTransposeIsAGemmFlag});
 * the benchmark keeps calling the primitive so its numbers stay comparable with earlier runs. Verified by
 * {@code MatmulBenchmarkLayoutTest}, which runs this benchmark on a recording backend: one
 * {@code matmul} call per invocation carrying the layout's flags, no {@code copy} or
 * {@code stridedCopy}, and results equal to a naive op(A) @ op(B); the same test records the copy
 * that the public-API route makes.
 *
 * <p>An invocation allocates C, runs {@code calls} GEMMs into it, synchronizes and releases C, as
 * {@code Tensor.matmul} allocates its output (the cuda backend serves it from its caching
 * allocator, PyTorch from its own). The score is the time of the whole invocation, so the time of
 * one GEMM is score / calls: calls = 1 (the default) pays one device synchronize per GEMM, more
 * calls spread it (the GPU check runs 4, as its PyTorch peer does with {@code --calls 4}). The
 * backend's one-line description is printed at set-up ({@code grad4j backend: ...}), so the log
 * says which GEMM engine ran.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {ForkFlags.NATIVE_ACCESS, ForkFlags.JMH_UNSAFE})
public class MatmulBenchmark {
    @Param({"cpu"})
    public String backend;

    @Param({"256", "1024", "2048"})
    public int n;

    /** NN, NT or TN (TT works too). */
    @Param({"NN"})
    public String layout;

    /** GEMMs per invocation, before its one synchronize. */
    @Param({"1"})
    public int calls;

    Backend device;
    Storage a;
    Storage b;
    MatmulShape shape;

    @Setup(Level.Trial)
    public void setUp() {
        setUp(Backends.get(backend));
        System.out.println("grad4j backend: " + device.description());
    }

    /** The set-up on a given backend (tests pass a recording one). */
    void setUp(Backend on) {
        if (!layout.matches("[NT][NT]")) {
            throw new IllegalArgumentException("layout must be NN, NT, TN or TT, got '" + layout + "'");
        }
        if (calls < 1) {
            throw new IllegalArgumentException("calls must be at least 1, got " + calls);
        }
        device = on;
        shape = new MatmulShape(1, n, n, n, layout.charAt(0) == 'T', layout.charAt(1) == 'T', 0, 0);
        a = device.upload(uniform(1, (long) n * n));
        b = device.upload(uniform(2, (long) n * n));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.release();
        b.release();
    }

    @Benchmark
    public long matmul() {
        Storage c = device.allocate(DType.FLOAT32, (long) n * n);
        for (int i = 0; i < calls; i++) {
            device.matmul(a, b, c, shape);
        }
        device.synchronize();
        long length = c.length();
        c.release();
        return length;
    }

    static float[] uniform(long seed, long length) {
        if (length > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("at most 2^31 - 9 elements per matrix, got " + length);
        }
        float[] host = new float[(int) length];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < host.length; i++) {
            host[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return host;
    }
}
