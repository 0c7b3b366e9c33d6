package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backends;
import io.grad4j.checkpoint.Safetensors;
import io.grad4j.nn.Losses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * INT32, INT64 and BOOL tensors on every backend: creation, transfer both ways, casts with Java's
 * conversions (on the device and on the host), views, safetensors, integer labels; and the
 * refusal of arithmetic and gradients on them.
 */
public abstract class DTypeConformanceTest extends BackendTestBase {
    @TempDir
    Path dir;

    @Test
    void integerAndBoolTensorsAreCreatedAndReadBack() {
        Tensor i = Tensor.of(new int[] {1, -2, 3, Integer.MIN_VALUE, 5, Integer.MAX_VALUE}, 2, 3);
        assertEquals(DType.INT32, i.dtype());
        assertArrayEquals(new int[] {1, -2, 3, Integer.MIN_VALUE, 5, Integer.MAX_VALUE}, i.toIntArray());
        assertArrayEquals(new long[] {1, -2, 3, Integer.MIN_VALUE, 5, Integer.MAX_VALUE}, i.toLongArray());
        assertArrayEquals(new double[] {1, -2, 3, Integer.MIN_VALUE, 5, Integer.MAX_VALUE}, i.toDoubleArray());
        Tensor l = Tensor.of(new long[] {Long.MAX_VALUE, -1, 1L << 53 | 1}, 3);
        assertEquals(DType.INT64, l.dtype());
        assertArrayEquals(new long[] {Long.MAX_VALUE, -1, 1L << 53 | 1}, l.toLongArray());
        assertArrayEquals(new int[] {-1, -1, 1}, l.toIntArray()); // (int) keeps the low 32 bits
        Tensor b = Tensor.of(new boolean[] {true, false, true}, 3);
        assertEquals(DType.BOOL, b.dtype());
        assertArrayEquals(new boolean[] {true, false, true}, b.toBooleanArray());
        assertArrayEquals(new float[] {1, 0, 1}, b.toFloatArray());

        assertArrayEquals(new long[] {-2, -1, 0, 1, 2}, Tensor.arange(DType.INT64, -2, 3).toLongArray());
        assertArrayEquals(new float[] {0, 1, 2, 3}, Tensor.arange(DType.FLOAT32, 0, 4).toFloatArray());
        assertEquals(0, Tensor.arange(DType.INT32, 5, 5).numel());
        assertArrayEquals(new int[] {7, 7, 7, 7}, Tensor.full(DType.INT32, 7.9, 2, 2).toIntArray()); // (int) 7.9
        assertArrayEquals(new long[] {0, 0}, Tensor.zeros(DType.INT64, 2).toLongArray());
        assertArrayEquals(new boolean[] {true, true}, Tensor.ones(DType.BOOL, 2).toBooleanArray());
        assertEquals(-2.0, i.select(0, 0).select(0, 1).item());
        assertTrue(l.toString().contains("9223372036854775807"), l.toString());
        assertTrue(b.toString().contains("true"), b.toString());
    }

    /** Java's conversions, the same on the device (to(DType)) and on the host (toIntArray and friends). */
    @Test
    void castsConvertAsJavaCasts() {
        double[] values = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 3e9, -3e9, 1e19, -1e19,
                -2.9, 2.9, -0.0, 0.5, 41};
        Tensor x = Tensor.of(values, values.length);
        int[] asInt = new int[values.length];
        long[] asLong = new long[values.length];
        boolean[] asBool = new boolean[values.length];
        for (int k = 0; k < values.length; k++) {
            asInt[k] = (int) values[k];
            asLong[k] = (long) values[k];
            asBool[k] = values[k] != 0;
        }
        assertArrayEquals(asInt, x.to(DType.INT32).toIntArray());
        assertArrayEquals(asInt, x.toIntArray());
        assertArrayEquals(asLong, x.to(DType.INT64).toLongArray());
        assertArrayEquals(asLong, x.toLongArray());
        assertArrayEquals(asBool, x.to(DType.BOOL).toBooleanArray());
        assertArrayEquals(asBool, x.toBooleanArray());
        float[] singles = x.toFloatArray();
        int[] fromFloat = new int[values.length];
        for (int k = 0; k < values.length; k++) {
            fromFloat[k] = (int) singles[k];
        }
        assertArrayEquals(fromFloat, x.to(DType.FLOAT32).to(DType.INT32).toIntArray());

        long[] wide = {(1L << 32) + 1, -1, (1L << 53) + 1, Long.MIN_VALUE};
        Tensor w = Tensor.of(wide, wide.length);
        int[] low = new int[wide.length];
        float[] f = new float[wide.length];
        double[] d = new double[wide.length];
        for (int k = 0; k < wide.length; k++) {
            low[k] = (int) wide[k];
            f[k] = (float) wide[k];
            d[k] = (double) wide[k];
        }
        assertArrayEquals(low, w.to(DType.INT32).toIntArray());
        assertArrayEquals(f, w.to(DType.FLOAT32).toFloatArray());
        assertArrayEquals(d, w.to(DType.FLOAT64).toDoubleArray());
        assertArrayEquals(new long[] {1, -1, Integer.MAX_VALUE}, Tensor.of(new int[] {1, -1, Integer.MAX_VALUE}, 3)
                .to(DType.INT64).toLongArray());
        Tensor mask = Tensor.of(new boolean[] {true, false}, 2);
        assertArrayEquals(new double[] {1, 0}, mask.to(DType.FLOAT64).toDoubleArray());
        assertArrayEquals(new long[] {1, 0}, mask.to(DType.INT64).toLongArray());
        assertArrayEquals(new boolean[] {false, true, true}, Tensor.of(new int[] {0, -5, 3}, 3).to(DType.BOOL).toBooleanArray());
    }

    @Test
    void integerTensorsHaveViewsAndTravelBetweenBackends() {
        Tensor m = Tensor.arange(DType.INT64, 0, 12).reshape(3, 4);
        assertArrayEquals(new long[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, m.transpose().contiguous().toLongArray());
        assertArrayEquals(new long[] {5, 6}, m.select(0, 1).narrow(0, 1, 2).toLongArray());
        assertArrayEquals(new long[] {2, 2, 6, 6}, m.narrow(0, 0, 2).select(1, 2).unsqueeze(1).expand(2, 2).toLongArray());
        m.narrow(1, 1, 2).assign(Tensor.of(new long[] {-1, -2, -3, -4, -5, -6}, 3, 2));
        assertArrayEquals(new long[] {0, -1, -2, 3, 4, -3, -4, 7, 8, -5, -6, 11}, m.toLongArray());
        Tensor mask = Tensor.of(new boolean[] {true, false, false, true}, 2, 2);
        assertArrayEquals(new boolean[] {true, false, false, true}, mask.transpose().contiguous().toBooleanArray());

        for (String name : Backends.available()) { // to every installed backend and back
            for (Tensor t : new Tensor[] {m, mask, Tensor.of(new int[] {3, -4}, 2)}) {
                Tensor there = t.to(Backends.get(name));
                assertEquals(t.dtype(), there.dtype());
                Tensor back = there.to(t.backend());
                assertArrayEquals(t.toLongArray(), back.toLongArray());
            }
        }
    }

    @Test
    void integerTensorsCarryNoGradientAndTakeNoArithmetic() {
        Tensor i = Tensor.of(new int[] {1, 2, 3}, 3);
        assertRefused(() -> i.requiresGrad(true), "requiresGrad", "INT32", "no gradient");
        assertRefused(() -> i.add(i), "add", "INT32", "to(DType.FLOAT32)");
        assertRefused(() -> i.exp(), "exp", "INT32");
        assertRefused(() -> i.sum(), "sum", "INT32");
        assertRefused(() -> i.reshape(1, 3).matmul(i.reshape(3, 1)), "matmul", "INT32");
        assertRefused(() -> Tensor.of(new boolean[] {true}, 1).softmax(0), "softmax", "BOOL");
        assertRefused(() -> Tensor.randn(DType.INT64, 1, 3), "randn", "INT64");
        assertRefused(() -> Tensor.rand(DType.BOOL, 1, 3), "rand", "BOOL");

        Tensor x = Tensor.of(new double[] {1.5, -2.5}, 2).requiresGrad(true);
        Tensor truncated = x.to(DType.INT32);
        assertFalse(truncated.requiresGrad());
        Tensor y = truncated.to(DType.FLOAT64).mul(x); // the integer path adds no history
        y.sum().backward();
        assertArrayEquals(new double[] {1, -2}, x.grad().toDoubleArray());
    }

    private static void assertRefused(Executable call, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "'" + f + "' missing from: " + e.getMessage());
        }
    }

    @Test
    void crossEntropyTakesIntegerLabelTensors() {
        Tensor logits = Tensor.randn(DType.FLOAT64, 5, 4, 5);
        int[] labels = {1, 0, 4, 2};
        double expected = logits.crossEntropy(labels).item();
        // host memory (cpu): the labels are read there and the fused kernel gives the same bits;
        // a device (cuda) composes the loss on the device, equal up to rounding
        double tolerance = backend().hostMemory() ? 0 : 1e-12 * Math.abs(expected);
        assertEquals(expected, Losses.crossEntropy(logits, Tensor.of(new long[] {1, 0, 4, 2}, 4)).item(), tolerance);
        assertEquals(expected, Losses.crossEntropy(logits, Tensor.of(labels, 4)).item(), tolerance);
        IndexOutOfBoundsException range = assertThrows(IndexOutOfBoundsException.class,
                () -> Losses.crossEntropy(logits, Tensor.of(new long[] {1, 0, 1L << 32, 2}, 4)).item());
        assertTrue(range.getMessage().contains("4294967296")
                && (range.getMessage().contains("[0, 5)") || range.getMessage().contains("size 5")), range.getMessage());
        assertRefused(() -> Losses.crossEntropy(logits, Tensor.of(new double[] {1, 0, 4, 2}, 4)), "INT32 or INT64", "FLOAT64");
    }

    @Test
    void safetensorsHoldIntegerAndBoolTensors() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("i", Tensor.of(new int[] {1, -2, Integer.MAX_VALUE}, 3));
        tensors.put("l", Tensor.of(new long[] {Long.MIN_VALUE, 7, 1L << 40, 0}, 2, 2));
        tensors.put("b", Tensor.of(new boolean[] {true, false, true}, 3, 1));
        tensors.put("view", Tensor.arange(DType.INT64, 0, 6).reshape(2, 3).transpose());
        Path f = dir.resolve("ints.safetensors");
        Safetensors.save(f, tensors, Map.of());
        assertEquals(DType.INT32, Safetensors.header(f).tensors().get(0).dtype());
        try (Safetensors.Loaded loaded = Safetensors.load(f)) {
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                Tensor got = loaded.tensor(e.getKey());
                assertEquals(e.getValue().dtype(), got.dtype(), e.getKey());
                assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
                assertArrayEquals(e.getValue().toLongArray(), got.toLongArray(), e.getKey());
            }
        }

        byte[] json = "{\"m\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]}}"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        java.nio.ByteBuffer file = java.nio.ByteBuffer.allocate(8 + padded + 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        file.putLong(padded).put(json);
        while (file.position() < 8 + padded) {
            file.put((byte) ' ');
        }
        file.put((byte) 1).put((byte) 2);
        Path bad = java.nio.file.Files.write(dir.resolve("bad-bool.safetensors"), file.array());
        io.grad4j.checkpoint.SafetensorsFormatException e = assertThrows(io.grad4j.checkpoint.SafetensorsFormatException.class,
                () -> Safetensors.load(bad).close());
        assertTrue(e.getMessage().contains("'m'") && e.getMessage().contains("byte 2"), e.getMessage());
    }
}
