package io.grad4j.checkpoint;

import io.grad4j.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every malformed file is refused by the header check, before any tensor exists, so these run
 * without a backend. Each message must name the file and the values involved.
 */
class SafetensorsCorruptionTest {
    @TempDir
    Path dir;

    /** A file with the given header text (length field = its UTF-8 size) and {@code dataBytes} zero bytes. */
    private Path file(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return raw(h.length, h, new byte[dataBytes]);
    }

    private Path raw(long declaredLength, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header).put(data);
        Path f = Files.createTempFile(dir, "bad", ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin
                + "," + end + "]}";
    }

    /** Asserts that both header() and load() refuse the file with a message holding every fragment. */
    private static void refused(Path f, String... fragments) {
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> Safetensors.header(f));
        assertEquals(f, e.file());
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        for (String s : fragments) {
            assertTrue(e.getMessage().contains(s), "missing '" + s + "' in: " + e.getMessage());
        }
        SafetensorsFormatException viaLoad = assertThrows(SafetensorsFormatException.class, () -> Safetensors.load(f));
        assertEquals(e.getMessage(), viaLoad.getMessage());
    }

    @Test
    void validHeaderIsParsedInDataOrderWithMetadata() throws IOException {
        Path f = file("{\"__metadata__\":{\"epoch\":\"3\"}," + entry("second", "F64", "[]", 8, 16) + ","
                + entry("first", "F32", "[2]", 0, 8) + "," + entry("empty", "F32", "[0,3]", 16, 16) + "}   ", 16);
        Safetensors.Header h = Safetensors.header(f);
        assertEquals(Map.of("epoch", "3"), h.metadata());
        assertEquals(List.of("first", "second", "empty"), h.tensors().stream().map(Safetensors.TensorInfo::name).toList());
        Safetensors.TensorInfo second = h.tensors().get(1);
        assertEquals(DType.FLOAT64, second.dtype());
        assertArrayEquals(new int[0], second.shape());
        assertEquals(1, second.numel());
        assertEquals(8, second.begin());
        assertEquals(16, second.end());
        assertEquals(f.toFile().length() - 16, h.dataStart());
    }

    @Test
    void emptyHeaderWithPaddingIsAValidFileWithNothingInIt() throws IOException {
        Path f = file("{}      ", 0);
        Safetensors.Loaded loaded = Safetensors.load(f); // no tensor, so no backend needed
        assertTrue(loaded.tensors().isEmpty());
        assertTrue(loaded.metadata().isEmpty());
    }

    @Test
    void fileShorterThanTheLengthField() throws IOException {
        Path f = dir.resolve("tiny.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        refused(f, "3 bytes", "8-byte header length");
    }

    @Test
    void headerLengthLargerThanTheFile() throws IOException {
        byte[] h = "{}".getBytes(StandardCharsets.UTF_8);
        refused(raw(1000, h, new byte[0]), "header length 1000", "2 bytes that follow", "file size 10");
        refused(raw(-1, h, new byte[0]), "header length 18446744073709551615");
    }

    @Test
    void headerThatIsNotUtf8() throws IOException {
        refused(raw(4, new byte[] {'{', (byte) 0xC3, '}', ' '}, new byte[0]), "not valid UTF-8");
    }

    @Test
    void malformedJson() throws IOException {
        refused(file("{\"a\":", 0), "not valid JSON", "unexpected end");
        refused(file("{" + entry("a", "F32", "[1]", 0, 4) + ",}", 4), "not valid JSON", "expected a string key");
        refused(file("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("a", "F32", "[1]", 4, 8) + "}", 8),
                "duplicate key \"a\"");
        refused(file("{} trailing", 0), "unexpected content after the JSON value");
        refused(file("[]", 0), "must be a JSON object", "the array []");
    }

    @Test
    void wronglyTypedEntries() throws IOException {
        refused(file("{\"w\":[1]}", 0), "tensor 'w' must be an object");
        refused(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "tensor 'w' has no 'data_offsets'");
        refused(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4),
                "tensor 'w' has an unexpected key 'extra'");
        refused(file("{" + entry("w", "F32", "[-1]", 0, 4) + "}", 4), "tensor 'w'", "non-negative integers", "-1");
        refused(file("{" + entry("w", "F32", "[1.5]", 0, 4) + "}", 4), "tensor 'w'", "1.5");
        refused(file("{" + entry("w", "F32", "3", 0, 4) + "}", 4), "tensor 'w'", "shape must be an array");
        refused(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
                "tensor 'w'", "data_offsets must be [begin, end]", "[0]");
        refused(file("{" + entry("w", "F32", "[1]", 8, 4) + "}", 8), "tensor 'w'", "[8, 4]", "end before");
        refused(file("{\"__metadata__\":{\"epoch\":3}}", 0), "'epoch' must be a string", "3");
        refused(file("{\"__metadata__\":[]}", 0), "'__metadata__' must be an object");
    }

    @Test
    void unknownDtypeIsNamed() throws IOException {
        refused(file("{" + entry("emb", "F16", "[2]", 0, 4) + "}", 4), "tensor 'emb'", "dtype 'F16'", "F32, F64");
        refused(file("{" + entry("emb", "WAT", "[2]", 0, 8) + "}", 8), "tensor 'emb'", "dtype 'WAT'");
    }

    @Test
    void shapeThatDoesNotMatchTheByteRange() throws IOException {
        refused(file("{" + entry("w", "F32", "[2,3]", 0, 20) + "}", 20),
                "tensor 'w'", "shape [2, 3] of F32 needs 24 bytes", "[0, 20] span 20");
        refused(file("{" + entry("s", "F64", "[]", 0, 4) + "}", 4), "tensor 's'", "shape [] of F64 needs 8 bytes");
        refused(file("{" + entry("w", "F32", "[4294967296,4294967296,4294967296]", 0, 4) + "}", 4),
                "tensor 'w'", "4294967296", "larger than grad4j's int dimensions");
    }

    @Test
    void overlappingOffsets() throws IOException {
        refused(file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12),
                "tensor 'b'", "[4, 12]", "overlap tensor 'a'", "[0, 8]");
        refused(file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 0, 8) + "}", 8),
                "overlap");
    }

    @Test
    void gapInTheData() throws IOException {
        refused(file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 12, 20) + "}", 20),
                "gap", "[8, 12)", "tensor 'b'");
        refused(file("{" + entry("a", "F32", "[2]", 4, 12) + "}", 12), "gap", "[0, 4)", "tensor 'a'");
    }

    @Test
    void offsetsOutOfRangeOrTruncatedBody() throws IOException {
        refused(file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[4]", 8, 24) + "}", 13),
                "tensor 'b'", "[8, 24]", "holds only 13 bytes", "truncated");
        refused(file("{" + entry("a", "F32", "[1]", 0, 4) + "}", 0), "tensor 'a'", "holds only 0 bytes");
    }

    @Test
    void strayBytesAfterTheLastTensor() throws IOException {
        refused(file("{" + entry("a", "F32", "[1]", 0, 4) + "}", 9), "holds 9 bytes", "cover only 4",
                "5 stray bytes", "after tensor 'a'");
        refused(file("{}", 3), "holds 3 bytes", "cover only 0");
    }
}
