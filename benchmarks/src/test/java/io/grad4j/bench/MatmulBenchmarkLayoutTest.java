package io.grad4j.bench;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.backend.MatmulShape;
import io.grad4j.backend.Storage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MatmulBenchmark's NT and TN layouts reach the backend as GEMM transpose flags, not as a copy
 * followed by an NN product: the benchmark runs on a cpu backend wrapped in a proxy that records
 * every call (and the product each matmul call wrote), and the result is checked against a naive
 * op(A) @ op(B) computed here.
 */
class MatmulBenchmarkLayoutTest {
    /** A backend that records the name of every call and the output of every matmul. */
    static final class Recorder {
        final Backend delegate = Backends.get("cpu");
        final List<String> calls = new ArrayList<>();
        final List<MatmulShape> shapes = new ArrayList<>();
        final List<float[]> products = new ArrayList<>();
        final Backend backend = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                    calls.add(method.getName());
                    Object result;
                    try {
                        result = method.invoke(delegate, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    if (method.getName().equals("matmul")) {
                        Storage c = (Storage) args[2];
                        float[] host = new float[(int) c.length()];
                        delegate.download(c, host);
                        shapes.add((MatmulShape) args[3]);
                        products.add(host);
                    }
                    return result;
                });
    }

    @ParameterizedTest
    @ValueSource(strings = {"NN", "NT", "TN", "TT"})
    void layoutIsAGemmFlagAndTheProductIsRight(String layout) {
        int n = 7;
        Recorder r = new Recorder();
        MatmulBenchmark bench = new MatmulBenchmark();
        bench.n = n;
        bench.layout = layout;
        bench.calls = 1;
        bench.setUp(r.backend);
        float[] a = download(r.delegate, bench.a);
        float[] b = download(r.delegate, bench.b);
        r.calls.clear();

        bench.matmul();

        assertEquals(List.of("allocate", "matmul", "synchronize"), r.calls,
                "one GEMM call per invocation, no copy or stridedCopy");
        MatmulShape s = r.shapes.get(0);
        assertEquals(layout.charAt(0) == 'T', s.transposeA(), "transposeA for " + layout);
        assertEquals(layout.charAt(1) == 'T', s.transposeB(), "transposeB for " + layout);
        float[] expected = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < n; p++) {
                    float x = s.transposeA() ? a[p * n + i] : a[i * n + p];
                    float y = s.transposeB() ? b[j * n + p] : b[p * n + j];
                    sum += (double) x * y;
                }
                expected[i * n + j] = (float) sum;
            }
        }
        assertArrayEquals(expected, r.products.get(0), 1e-5f, layout + " product");
        bench.tearDown();
    }

    @Test
    void callsGemmsShareOneSynchronize() {
        Recorder r = new Recorder();
        MatmulBenchmark bench = new MatmulBenchmark();
        bench.n = 4;
        bench.layout = "NT";
        bench.calls = 3;
        bench.setUp(r.backend);
        r.calls.clear();

        bench.matmul();

        assertEquals(List.of("allocate", "matmul", "matmul", "matmul", "synchronize"), r.calls);
        bench.tearDown();
    }

    @Test
    void unknownLayoutIsRejected() {
        MatmulBenchmark bench = new MatmulBenchmark();
        bench.n = 2;
        bench.calls = 1;
        bench.layout = "NX";
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> bench.setUp(new Recorder().backend));
        assertTrue(e.getMessage().contains("NX"), e.getMessage());
    }

    /**
     * Through the public API a transposed operand is a view that reaches the backend as a GEMM
     * flag, with no copy (it was a stridedCopy plus an NN GEMM before views): the benchmark's
     * direct primitive calls and {@code a.matmul(b.transpose())} now run the same GEMM.
     */
    @Test
    void publicApiTransposeIsAGemmFlag() {
        Recorder r = new Recorder();
        try (Backends.Scope ignored = Backends.use(r.backend); TensorScope scope = TensorScope.open()) {
            Tensor a = Tensor.randn(DType.FLOAT32, 1, 5, 5);
            Tensor b = Tensor.randn(DType.FLOAT32, 2, 5, 5);
            r.calls.clear();
            a.matmul(b.transpose());
            a.transpose().matmul(b);
        }
        assertFalse(r.calls.contains("stridedCopy"), "a transpose was copied, calls: " + r.calls);
        assertEquals(2, r.shapes.size(), "calls: " + r.calls);
        assertTrue(!r.shapes.get(0).transposeA() && r.shapes.get(0).transposeB(), "NT expected: " + r.shapes.get(0));
        assertTrue(r.shapes.get(1).transposeA() && !r.shapes.get(1).transposeB(), "TN expected: " + r.shapes.get(1));
    }

    private static float[] download(Backend backend, Storage s) {
        float[] host = new float[(int) s.length()];
        backend.download(s, host);
        return host;
    }
}
