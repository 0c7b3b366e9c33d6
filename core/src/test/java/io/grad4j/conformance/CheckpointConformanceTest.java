package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.checkpoint.Checkpoint;
import io.grad4j.checkpoint.CheckpointMetadataException;
import io.grad4j.checkpoint.Safetensors;
import io.grad4j.checkpoint.TrainingState;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;
import io.grad4j.optim.SGD;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Safetensors files and training checkpoints written and read through a backend. */
public abstract class CheckpointConformanceTest extends BackendTestBase {
    @TempDir
    Path dir;

    private static final float[] SPECIAL_FLOATS = {
        0f, -0f, 1f, -2.5f, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-40f, Float.MIN_NORMAL, Float.MAX_VALUE,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.intBitsToFloat(0x7fc00123),
        Float.intBitsToFloat(0xffc00001), (float) Math.PI, 16777217f,
    };

    private static final double[] SPECIAL_DOUBLES = {
        0d, -0d, 1d, -2.5d, Double.MIN_VALUE, -Double.MIN_VALUE, 1e-310, Double.MIN_NORMAL, Double.MAX_VALUE,
        Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN,
        Double.longBitsToDouble(0x7ff8000000000123L), Double.longBitsToDouble(0xfff8000000000001L), Math.PI,
        0.1 + 0.2,
    };

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Float.floatToRawIntBits(v[i]);
        }
        return b;
    }

    private static long[] bits(double[] v) {
        long[] b = new long[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Double.doubleToRawLongBits(v[i]);
        }
        return b;
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    // ---------------------------------------------------------------- round trips

    @Test
    void float32RoundTripIsBitExact() throws IOException {
        Tensor special = Tensor.of(SPECIAL_FLOATS, 4, 4);
        assertArrayEquals(bits(SPECIAL_FLOATS), bits(special.toFloatArray()), "backend upload/download itself");
        Path f = dir.resolve("f32.safetensors");
        Safetensors.save(f, Map.of("special", special));
        try (Safetensors.Loaded loaded = Safetensors.load(f)) {
            Tensor t = loaded.tensor("special");
            assertEquals(DType.FLOAT32, t.dtype());
            assertArrayEquals(new int[] {4, 4}, t.shape());
            assertSame(backend(), t.backend());
            assertArrayEquals(bits(SPECIAL_FLOATS), bits(t.toFloatArray()));
        }
    }

    @Test
    void float64RoundTripIsBitExact() throws IOException {
        Tensor special = Tensor.of(SPECIAL_DOUBLES, 2, 8);
        assertArrayEquals(bits(SPECIAL_DOUBLES), bits(special.toDoubleArray()), "backend upload/download itself");
        Path f = dir.resolve("f64.safetensors");
        Safetensors.save(f, Map.of("special", special));
        try (Safetensors.Loaded loaded = Safetensors.load(f)) {
            Tensor t = loaded.tensor("special");
            assertEquals(DType.FLOAT64, t.dtype());
            assertArrayEquals(new int[] {2, 8}, t.shape());
            assertSame(backend(), t.backend());
            assertArrayEquals(bits(SPECIAL_DOUBLES), bits(t.toDoubleArray()));
        }
    }

    @Test
    void rankZeroEmptyAndLargeTensorsKeepShapeOrderAndMetadata() throws IOException {
        Random rnd = new Random(7);
        float[] big = new float[(1 << 18) + 3]; // more than one 1 MiB I/O chunk, not a whole number of them
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) rnd.nextGaussian();
        }
        double[] bigD = new double[(1 << 17) + 5];
        for (int i = 0; i < bigD.length; i++) {
            bigD[i] = rnd.nextGaussian();
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("z.scalar64", Tensor.scalar(-0.0));
        tensors.put("a.scalar32", Tensor.of(new float[] {Float.NaN}));
        tensors.put("empty", Tensor.zeros(DType.FLOAT32, 0));
        tensors.put("empty.2d", Tensor.zeros(DType.FLOAT64, 2, 0, 3));
        tensors.put("big", Tensor.of(big, big.length));
        tensors.put("bigD", Tensor.of(bigD, bigD.length));
        tensors.put("nämé \"quoted\"\n", Tensor.ones(DType.FLOAT32, 1, 1, 1));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("note", "ünïcode \"quotes\" \\ and\nnewline");
        meta.put("", "empty key");
        Path f = dir.resolve("mixed.safetensors");
        Safetensors.save(f, tensors, meta);

        try (Safetensors.Loaded loaded = Safetensors.load(f)) {
            assertEquals(List.copyOf(tensors.keySet()), List.copyOf(loaded.tensors().keySet()), "file order");
            assertEquals(meta, loaded.metadata());
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                Tensor want = e.getValue();
                Tensor got = loaded.tensor(e.getKey());
                assertArrayEquals(want.shape(), got.shape(), e.getKey());
                assertEquals(want.dtype(), got.dtype(), e.getKey());
                if (want.dtype() == DType.FLOAT32) {
                    assertArrayEquals(bits(want.toFloatArray()), bits(got.toFloatArray()), e.getKey());
                } else {
                    assertArrayEquals(bits(want.toDoubleArray()), bits(got.toDoubleArray()), e.getKey());
                }
            }
            assertEquals(0, loaded.tensor("z.scalar64").rank());
            assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(loaded.tensor("z.scalar64").item()));
            assertEquals(0, loaded.tensor("empty.2d").numel());
        }
    }

    // ---------------------------------------------------------------- the bytes on disk

    @Test
    void byteLayoutOfATinyFileIsExactlyTheSpec() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("a", Tensor.of(new float[] {1.0f, -2.0f}, 2));
        tensors.put("b", Tensor.scalar(0.5));
        Path f = dir.resolve("tiny.safetensors");
        Safetensors.save(f, tensors, Map.of("step", "7"));
        byte[] file = Files.readAllBytes(f);

        String json = "{\"__metadata__\":{\"step\":\"7\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[8,16]}}";
        assertEquals(135, json.length());
        // 8-byte little-endian header length: 135 bytes of JSON padded with one space to 136 = 0x88
        assertEquals("8800000000000000", HexFormat.of().formatHex(file, 0, 8));
        assertEquals(json + " ", new String(file, 8, 136, StandardCharsets.UTF_8));
        // data: 1.0f = 0x3f800000, -2.0f = 0xc0000000, 0.5 = 0x3fe0000000000000, all little-endian
        assertEquals("0000803f000000c0" + "000000000000e03f", HexFormat.of().formatHex(file, 144, 160));
        assertEquals(160, file.length);
        assertEquals(0, (8 + 136) % 8, "data section 8-byte aligned");
    }

    @Test
    void headerLengthIsAlwaysPaddedToAMultipleOfEight() throws IOException {
        for (int len = 1; len <= 9; len++) {
            Path f = dir.resolve("pad" + len + ".safetensors");
            Safetensors.save(f, Map.of("x".repeat(len), Tensor.scalar(1)));
            long n = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(0, n % 8, "name length " + len);
            String header = new String(Files.readAllBytes(f), 8, (int) n, StandardCharsets.UTF_8);
            assertEquals(header.stripTrailing() + " ".repeat(header.length() - header.stripTrailing().length()), header);
            assertTrue(header.stripTrailing().endsWith("}"), header);
        }
    }

    // ---------------------------------------------------------------- atomic replacement

    @Test
    void failedSaveLeavesThePreviousFileIntactAndNoTemporary() throws IOException {
        Path f = dir.resolve("model.safetensors");
        Safetensors.save(f, Map.of("w", Tensor.of(new float[] {1, 2, 3}, 3)), Map.of("epoch", "1"));
        byte[] before = Files.readAllBytes(f);

        Tensor closed = Tensor.of(new float[] {4, 5, 6}, 3);
        closed.close();
        Map<String, Tensor> withClosed = new LinkedHashMap<>();
        withClosed.put("w", Tensor.of(new float[] {9, 9, 9}, 3));
        withClosed.put("closed", closed);
        assertThrows(IllegalStateException.class, () -> Safetensors.save(f, withClosed, Map.of("epoch", "2")));
        assertArrayEquals(before, Files.readAllBytes(f));
        assertEquals(List.of("model.safetensors"), listing());

        assertThrows(IllegalArgumentException.class,
                () -> Safetensors.save(f, Map.of("__metadata__", Tensor.scalar(1))));
        Map<String, Tensor> nullTensor = new LinkedHashMap<>();
        nullTensor.put("w", null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Safetensors.save(f, nullTensor));
        assertTrue(e.getMessage().contains("'w'"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Safetensors.save(f, Map.of("bad\uD800", Tensor.scalar(1))));
        assertArrayEquals(before, Files.readAllBytes(f));
        assertEquals(List.of("model.safetensors"), listing());

        try (Safetensors.Loaded loaded = Safetensors.load(f)) {
            assertArrayEquals(new float[] {1, 2, 3}, loaded.tensor("w").toFloatArray());
            assertEquals(Map.of("epoch", "1"), loaded.metadata());
        }
    }

    // ---------------------------------------------------------------- training checkpoints

    private static Sequential model(long seed) {
        return new Sequential(new Linear(3, 4, seed), new ReLU(), new Linear(4, 2, seed + 1));
    }

    @Test
    void namesFollowTheArchitecture() {
        Sequential m = model(1);
        Map<String, Tensor> named = Checkpoint.named(m);
        assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias"),
                List.copyOf(named.keySet()));
        assertSame(((Linear) m.layers().get(2)).bias(), named.get("2.bias"));
        assertEquals(List.of("weight", "bias"), List.copyOf(Checkpoint.named(new Linear(2, 2, 0)).keySet()));

        Tensor a = Tensor.scalar(1);
        Tensor b = Tensor.scalar(2);
        assertEquals(List.of("p", "q"), List.copyOf(Checkpoint.named(List.of("p", "q"), List.of(a, b)).keySet()));
        assertThrows(IllegalArgumentException.class, () -> Checkpoint.named(List.of("p"), List.of(a, b)));
        IllegalArgumentException dup = assertThrows(IllegalArgumentException.class,
                () -> Checkpoint.named(List.of("p", "p"), List.of(a, b)));
        assertTrue(dup.getMessage().contains("'p' is used twice"), dup.getMessage());
    }

    /**
     * Checkpoints record that Linear weights are [out, in]; one written before that (a TrainingState,
     * no layout key) stored them [in, out] and loads transposed, square layers included. A file
     * from elsewhere (no TrainingState) is read as it is, as PyTorch wrote it.
     */
    @Test
    void checkpointsFromBeforeTheOutInLayoutLoadConverted() throws IOException {
        Sequential trained = new Sequential(new Linear(3, 4, 1), new ReLU(), new Linear(4, 4, 2)); // layer 2 is square
        Tensor x = Tensor.of(new float[] {0.5f, -1f, 2f, 1f, 0f, -0.25f}, 2, 3);
        float[] expected = trained.forward(x).toFloatArray();

        Path current = dir.resolve("current.safetensors");
        Checkpoint.save(current, Checkpoint.named(trained), new TrainingState(1, 2, 3));
        assertEquals(Checkpoint.LAYOUT, Safetensors.header(current).metadata().get(Checkpoint.LAYOUT_KEY));

        Map<String, Tensor> oldLayout = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : Checkpoint.named(trained).entrySet()) {
            Tensor t = e.getValue();
            oldLayout.put(e.getKey(), t.rank() == 2 ? t.transpose().contiguous() : t);
        }
        Path legacy = dir.resolve("legacy.safetensors");
        Safetensors.save(legacy, oldLayout, new TrainingState(1, 2, 3).toMetadata()); // as Checkpoint.save wrote it
        assertTrue(Checkpoint.isLegacyLayout(Safetensors.header(legacy).metadata()));
        Sequential fresh = new Sequential(new Linear(3, 4, 7), new ReLU(), new Linear(4, 4, 8));
        Checkpoint.loadInto(legacy, Checkpoint.named(fresh));
        assertArrayEquals(expected, fresh.forward(x).toFloatArray());

        Path foreign = dir.resolve("pytorch.safetensors");
        Safetensors.save(foreign, Checkpoint.named(trained), Map.of("format", "pt"));
        assertFalse(Checkpoint.isLegacyLayout(Safetensors.header(foreign).metadata()));
        Sequential other = new Sequential(new Linear(3, 4, 9), new ReLU(), new Linear(4, 4, 10));
        Checkpoint.loadInto(foreign, Checkpoint.named(other));
        assertArrayEquals(expected, other.forward(x).toFloatArray());
    }

    @Test
    void loadIntoRestoresParametersInPlaceAndTheTrainingState() throws IOException {
        Sequential trained = model(11);
        Sequential fresh = model(99);
        Tensor x = Tensor.of(new float[] {0.5f, -1f, 2f, 1f, 0f, -0.25f}, 2, 3);
        assertNotEquals(Arrays.toString(trained.forward(x).toFloatArray()), Arrays.toString(fresh.forward(x).toFloatArray()));

        Path f = dir.resolve("ckpt.safetensors");
        Checkpoint.save(f, Checkpoint.named(trained), new TrainingState(3, 1200, 42), Map.of("arch", "3-4-2"));
        List<Tensor> before = fresh.parameters();
        Map<String, String> meta = Checkpoint.loadInto(f, Checkpoint.named(fresh));

        assertEquals(new TrainingState(3, 1200, 42), TrainingState.fromMetadata(meta));
        assertEquals("3-4-2", meta.get("arch"));
        for (int i = 0; i < before.size(); i++) {
            assertSame(before.get(i), fresh.parameters().get(i), "parameters are filled in place");
            assertTrue(fresh.parameters().get(i).requiresGrad());
            assertArrayEquals(bits(trained.parameters().get(i).toFloatArray()),
                    bits(fresh.parameters().get(i).toFloatArray()));
        }
        assertArrayEquals(bits(trained.forward(x).toFloatArray()), bits(fresh.forward(x).toFloatArray()));
    }

    @Test
    void resumedTrainingMatchesUninterruptedTraining() throws IOException {
        Tensor x = Tensor.of(new double[] {0.5, -1, 2, 1, 0, -0.25, 3, 1, -2}, 3, 3);
        int[] labels = {0, 1, 1};
        Sequential straight = new Sequential(new Linear(3, 4, 5, DType.FLOAT64), new ReLU(), new Linear(4, 2, 6, DType.FLOAT64));
        SGD sgd = new SGD(straight.parameters(), 0.1);
        Path f = dir.resolve("mid.safetensors");
        for (int step = 0; step < 6; step++) {
            if (step == 3) {
                Checkpoint.save(f, Checkpoint.named(straight), new TrainingState(0, step, 5));
            }
            sgd.zeroGrad();
            Losses.crossEntropy(straight.forward(x), labels).backward();
            sgd.step();
        }

        Sequential resumed = new Sequential(new Linear(3, 4, 77, DType.FLOAT64), new ReLU(), new Linear(4, 2, 78, DType.FLOAT64));
        TrainingState state = TrainingState.fromMetadata(Checkpoint.loadInto(f, Checkpoint.named(resumed)));
        SGD sgd2 = new SGD(resumed.parameters(), 0.1);
        for (long step = state.step(); step < 6; step++) {
            sgd2.zeroGrad();
            Losses.crossEntropy(resumed.forward(x), labels).backward();
            sgd2.step();
        }
        for (int i = 0; i < straight.parameters().size(); i++) {
            assertArrayEquals(bits(straight.parameters().get(i).toDoubleArray()),
                    bits(resumed.parameters().get(i).toDoubleArray()), "parameter " + i);
        }
    }

    @Test
    void loadIntoRefusesMismatchesAndChangesNothing() throws IOException {
        Path f = dir.resolve("ckpt.safetensors");
        Map<String, Tensor> saved = new LinkedHashMap<>();
        saved.put("w", Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        saved.put("b", Tensor.of(new float[] {7, 8}, 2));
        saved.put("extra", Tensor.scalar(1));
        Checkpoint.save(f, saved, new TrainingState(1, 2, 3));

        Tensor w = Tensor.zeros(DType.FLOAT32, 2, 3).requiresGrad(true);
        Tensor b = Tensor.zeros(DType.FLOAT32, 2).requiresGrad(true);
        Tensor gamma = Tensor.zeros(DType.FLOAT32, 2);
        Map<String, Tensor> target = new LinkedHashMap<>();
        target.put("w", w);
        target.put("b", b);
        target.put("gamma", gamma);
        IllegalArgumentException names = assertThrows(IllegalArgumentException.class, () -> Checkpoint.loadInto(f, target));
        String m = names.getMessage();
        assertTrue(m.contains(f.toString()), m);
        assertTrue(m.contains("missing from the file: [gamma]"), m);
        assertTrue(m.contains("in the file but not in the model: [extra]"), m);
        assertTrue(m.contains("nothing was loaded"), m);
        assertArrayEquals(new float[6], w.toFloatArray(), "no partial load");

        Map<String, Tensor> wrong = new LinkedHashMap<>();
        wrong.put("w", Tensor.zeros(DType.FLOAT32, 3, 2));
        wrong.put("b", Tensor.zeros(DType.FLOAT64, 2));
        wrong.put("extra", Tensor.zeros(DType.FLOAT32, 1));
        IllegalArgumentException shapes = assertThrows(IllegalArgumentException.class, () -> Checkpoint.loadInto(f, wrong));
        m = shapes.getMessage();
        assertTrue(m.contains("'w': file has F32 [2, 3], model has F32 [3, 2] (shape differs)"), m);
        assertTrue(m.contains("'b': file has F32 [2], model has F64 [2] (dtype differs)"), m);
        assertTrue(m.contains("'extra': file has F64 [], model has F32 [1] (shape and dtype differ)"), m);
        assertArrayEquals(new float[6], wrong.get("w").toFloatArray(), "no partial load");

        target.remove("gamma");
        target.put("extra", Tensor.zeros(DType.FLOAT64));
        assertEquals(new TrainingState(1, 2, 3), TrainingState.fromMetadata(Checkpoint.loadInto(f, target)));
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, w.toFloatArray());
        assertArrayEquals(new float[] {7, 8}, b.toFloatArray());
        assertEquals(1.0, target.get("extra").item());
    }

    @Test
    void trainingStateNeedsItsKeys() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrainingState.fromMetadata(Map.of("epoch", "1", "seed", "2")));
        assertTrue(e.getMessage().contains("no 'step'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainingState.fromMetadata(Map.of("epoch", "one", "step", "1", "seed", "2")));
        assertTrue(e.getMessage().contains("'epoch' is \"one\""), e.getMessage());
        assertEquals(new TrainingState(0, Long.MAX_VALUE, Long.MIN_VALUE),
                TrainingState.fromMetadata(new TrainingState(0, Long.MAX_VALUE, Long.MIN_VALUE).toMetadata()));
        // issue 23: a checkpoint whose metadata said epoch -3 resumed at epoch -2
        e = assertThrows(IllegalArgumentException.class,
                () -> TrainingState.fromMetadata(Map.of("epoch", "-3", "step", "1", "seed", "2")));
        assertTrue(e.getMessage().contains("'epoch' is -3"), e.getMessage());
        CheckpointMetadataException fromFile = assertThrows(CheckpointMetadataException.class,
                () -> TrainingState.fromMetadata(dir.resolve("m.safetensors"), Map.of("epoch", "1", "step", "-1", "seed", "2")));
        assertTrue(fromFile.getMessage().contains("m.safetensors") && fromFile.getMessage().contains("'step' is -1"),
                fromFile.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TrainingState(-1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> Checkpoint.save(dir.resolve("x.safetensors"), Map.of(),
                new TrainingState(0, 0, 0), Map.of("step", "9")));
    }
}
