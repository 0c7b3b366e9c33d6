package io.grad4j.checkpoint;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backends;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads and writes tensors in the <a href="https://github.com/huggingface/safetensors">safetensors</a>
 * format, which PyTorch, JAX and the Hugging Face tools read too.
 *
 * <p>Layout: an 8-byte little-endian unsigned header length {@code N}; {@code N} bytes of UTF-8
 * JSON, {@code {"__metadata__": {string: string}, "<name>": {"dtype": "F32", "shape": [2, 3],
 * "data_offsets": [begin, end]}, ...}}, padded with spaces so the data starts at a multiple of 8;
 * then the raw little-endian values of every tensor, row-major, back to back. Offsets count from
 * the first byte after the header; the tensors cover that data section exactly, without gaps or
 * overlaps. grad4j writes and reads the dtypes {@code F32} ({@link DType#FLOAT32}), {@code F64}
 * ({@link DType#FLOAT64}), {@code I32}, {@code I64} and {@code BOOL} (one byte, 0 or 1; another
 * byte value is refused); values are copied bit for bit (NaN payloads, -0.0, subnormals).
 *
 * <p>{@link #save} replaces the file atomically: a failed save leaves the previous file as it was.
 * {@link #load} validates the whole header against the file before it creates any tensor, and
 * throws a {@link SafetensorsFormatException} naming the file, the tensor and the values involved.
 */
public final class Safetensors {
    /** The reserved header key for the string-to-string metadata. */
    public static final String METADATA_KEY = "__metadata__";

    /**
     * Headers larger than this are refused before they are read: the reference implementation's
     * limit ({@code MAX_HEADER_SIZE = 100_000_000} bytes in huggingface/safetensors, not 100 MiB), so
     * a corrupt length cannot make the reader allocate gigabytes.
     */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /**
     * Files with more tensors than this are refused while the header is parsed. A header just under
     * {@link #MAX_HEADER_BYTES} can list 1.78 million empty tensors, which took 30 s and 3.4 GB to
     * load; the largest public checkpoints hold a few thousand tensors per file.
     */
    public static final int MAX_TENSORS = 100_000;

    private static final int CHUNK_BYTES = 1 << 20;

    private Safetensors() {
    }

    /** One tensor's header entry: name, dtype, shape and byte range in the data section. */
    public record TensorInfo(String name, DType dtype, int[] shape, long begin, long end) {
        public TensorInfo {
            shape = shape.clone();
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }

        /** The number of elements, the product of the shape (1 for rank 0). */
        public long numel() {
            long n = 1;
            for (int d : shape) {
                n *= d;
            }
            return n;
        }

        @Override
        public String toString() {
            return name + " " + dtypeName(dtype) + " " + Arrays.toString(shape) + " [" + begin + ", " + end + ")";
        }
    }

    /** A parsed header: the tensors in data order, the metadata, and where the data section starts. */
    public record Header(List<TensorInfo> tensors, Map<String, String> metadata, long dataStart) {
        public Header {
            tensors = List.copyOf(tensors);
            metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        }
    }

    /**
     * The contents of a file: tensors in the order of their data in the file, and the metadata.
     * Closing it closes the tensors (tensors moved elsewhere with {@code assign} are unaffected).
     */
    public record Loaded(Map<String, Tensor> tensors, Map<String, String> metadata) implements AutoCloseable {
        public Loaded {
            tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
            metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        }

        /** The named tensor, or an IllegalArgumentException listing the names there are. */
        public Tensor tensor(String name) {
            Tensor t = tensors.get(name);
            if (t == null) {
                throw new IllegalArgumentException("no tensor named '" + name + "'; the file holds " + tensors.keySet());
            }
            return t;
        }

        @Override
        public void close() {
            tensors.values().forEach(Tensor::close);
        }
    }

    // ---------------------------------------------------------------- writing

    /** {@link #save(Path, Map, Map)} without metadata. */
    public static void save(Path file, Map<String, Tensor> tensors) throws IOException {
        save(file, tensors, Map.of());
    }

    /**
     * Writes the tensors, in the map's iteration order (use a {@link LinkedHashMap} for a stable
     * file), and the metadata (may be empty or null; an empty map writes no {@code __metadata__}).
     * Replaces {@code file} atomically; on any failure the previous file is unchanged.
     *
     * @throws IllegalArgumentException for a null or reserved name, a null tensor, a name that is
     *     not valid Unicode, or null metadata keys or values
     * @throws IllegalStateException for a closed tensor
     */
    public static void save(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(tensors, "tensors");
        Map<String, String> meta = metadata == null ? Map.of() : metadata;
        List<Map.Entry<String, Tensor>> entries = new ArrayList<>(tensors.entrySet());
        byte[] header = header(file, entries, meta);
        AtomicFiles.replace(file, channel -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            len.putLong(header.length).flip();
            writeFully(channel, len);
            writeFully(channel, ByteBuffer.wrap(header));
            ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (Map.Entry<String, Tensor> e : entries) {
                writeData(channel, chunk, e.getValue());
            }
        });
    }

    /** The padded UTF-8 header; checks every name, tensor and metadata entry first. */
    private static byte[] header(Path file, List<Map.Entry<String, Tensor>> entries, Map<String, String> metadata) {
        StringBuilder json = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            HeaderJson.writeString(json, METADATA_KEY);
            json.append(":{");
            boolean first = true;
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                if (m.getKey() == null || m.getValue() == null) {
                    throw new IllegalArgumentException("cannot save " + file + ": metadata entry " + m.getKey()
                            + "=" + m.getValue() + " has a null key or value");
                }
                if (!first) {
                    json.append(',');
                }
                first = false;
                HeaderJson.writeString(json, m.getKey());
                json.append(':');
                HeaderJson.writeString(json, m.getValue());
            }
            json.append('}');
        }
        long offset = 0;
        boolean first = metadata.isEmpty();
        for (Map.Entry<String, Tensor> e : entries) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name == null) {
                throw new IllegalArgumentException("cannot save " + file + ": a tensor has a null name");
            }
            if (name.equals(METADATA_KEY)) {
                throw new IllegalArgumentException("cannot save " + file + ": '" + METADATA_KEY
                        + "' is reserved for the metadata and cannot name a tensor");
            }
            if (t == null) {
                throw new IllegalArgumentException("cannot save " + file + ": tensor '" + name + "' is null");
            }
            DType dtype = t.dtype(); // throws IllegalStateException naming the shape for a closed tensor
            int[] shape = t.shape();
            long bytes = t.numel() * elementBytes(dtype);
            if (!first) {
                json.append(',');
            }
            first = false;
            HeaderJson.writeString(json, name);
            json.append(":{\"dtype\":\"").append(dtypeName(dtype)).append("\",\"shape\":[");
            for (int i = 0; i < shape.length; i++) {
                json.append(i == 0 ? "" : ",").append(shape[i]);
            }
            json.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        json.append('}');
        byte[] utf8;
        try {
            ByteBuffer encoded = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(json));
            utf8 = new byte[encoded.remaining()];
            encoded.get(utf8);
        } catch (CharacterCodingException ex) {
            throw new IllegalArgumentException("cannot save " + file + ": a tensor name or metadata string is not "
                    + "valid Unicode (an unpaired surrogate); safetensors headers are UTF-8", ex);
        }
        // pad with spaces so the data section starts 8-byte aligned (8 + N is a multiple of 8)
        int padded = (utf8.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(utf8, padded);
        Arrays.fill(out, utf8.length, padded, (byte) ' ');
        return out;
    }

    private static void writeData(FileChannel channel, ByteBuffer chunk, Tensor t) throws IOException {
        chunk.clear();
        if (!t.dtype().isFloatingPoint()) {
            writeIntegers(channel, chunk, t);
            return;
        }
        if (t.dtype() == DType.FLOAT32) {
            for (float v : t.toFloatArray()) {
                if (chunk.remaining() < Float.BYTES) {
                    flush(channel, chunk);
                }
                chunk.putFloat(v); // raw bits: NaN payloads survive
            }
        } else {
            for (double v : t.toDoubleArray()) {
                if (chunk.remaining() < Double.BYTES) {
                    flush(channel, chunk);
                }
                chunk.putDouble(v);
            }
        }
        flush(channel, chunk);
    }

    private static void writeIntegers(FileChannel channel, ByteBuffer chunk, Tensor t) throws IOException {
        switch (t.dtype()) {
            case INT32 -> {
                for (int v : t.toIntArray()) {
                    if (chunk.remaining() < Integer.BYTES) {
                        flush(channel, chunk);
                    }
                    chunk.putInt(v);
                }
            }
            case INT64 -> {
                for (long v : t.toLongArray()) {
                    if (chunk.remaining() < Long.BYTES) {
                        flush(channel, chunk);
                    }
                    chunk.putLong(v);
                }
            }
            default -> {
                for (int v : t.toIntArray()) { // BOOL: 0 or 1
                    if (!chunk.hasRemaining()) {
                        flush(channel, chunk);
                    }
                    chunk.put((byte) v);
                }
            }
        }
        flush(channel, chunk);
    }

    private static void flush(FileChannel channel, ByteBuffer chunk) throws IOException {
        chunk.flip();
        writeFully(channel, chunk);
        chunk.clear();
    }

    private static void writeFully(FileChannel channel, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    // ---------------------------------------------------------------- reading

    /**
     * Reads every tensor onto the current backend ({@link Backends#current()}), keeping the
     * file's dtypes, in the order of their data in the file.
     *
     * @throws SafetensorsFormatException if the file is not valid safetensors or holds a dtype
     *     other than F32/F64/I32/I64/BOOL; no tensor is created in that case
     */
    public static Loaded load(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        RegularFile.require(file, "a safetensors file"); // a FIFO would block the open for ever
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Header header = readHeader(file, ch);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            boolean ok = false;
            try {
                ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                for (TensorInfo info : header.tensors()) {
                    tensors.put(info.name(), readTensor(file, ch, header.dataStart(), info, chunk));
                }
                ok = true;
            } finally {
                if (!ok) {
                    tensors.values().forEach(Tensor::close);
                }
            }
            return new Loaded(tensors, header.metadata());
        }
    }

    /** Reads and validates the header only (names, dtypes, shapes, offsets) without loading data. */
    public static Header header(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        RegularFile.require(file, "a safetensors file");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return readHeader(file, ch);
        }
    }

    private static Header readHeader(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new SafetensorsFormatException(file, "the file is " + size
                    + " bytes, shorter than the 8-byte header length that starts a safetensors file");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, ch, lenBuf, 0, "the header length");
        long n = lenBuf.flip().getLong();
        String nText = Long.toUnsignedString(n);
        if (n < 0 || n > size - 8) {
            throw new SafetensorsFormatException(file, "header length " + nText + " is larger than the "
                    + (size - 8) + " bytes that follow it (file size " + size + "); the file is truncated or not "
                    + "safetensors");
        }
        if (n > MAX_HEADER_BYTES) {
            throw new SafetensorsFormatException(file, "header length " + nText + " exceeds the limit of "
                    + MAX_HEADER_BYTES + " bytes");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) n);
        readFully(file, ch, headerBuf, 8, "the header");
        headerBuf.flip();
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(headerBuf)
                    .toString();
        } catch (CharacterCodingException ex) {
            throw new SafetensorsFormatException(file, "the " + n + "-byte header is not valid UTF-8", ex);
        }
        Object root;
        try {
            root = HeaderJson.parse(text, MAX_TENSORS + 1); // + 1: the __metadata__ entry
        } catch (HeaderJson.TooManyMembers ex) {
            throw tooManyTensors(file);
        } catch (HeaderJson.Malformed ex) {
            throw new SafetensorsFormatException(file, "the header is not valid JSON: " + ex.getMessage()
                    + " (near: " + excerpt(text, ex.offset()) + ")", ex);
        }
        if (!(root instanceof Map<?, ?> top)) {
            throw new SafetensorsFormatException(file, "the header must be a JSON object, found "
                    + kind(root));
        }
        if (top.size() - (top.containsKey(METADATA_KEY) ? 1 : 0) > MAX_TENSORS) {
            throw tooManyTensors(file); // the parse bound left room for __metadata__
        }
        long dataStart = 8 + n;
        long dataLength = size - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> infos = new ArrayList<>();
        for (Map.Entry<?, ?> e : top.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals(METADATA_KEY)) {
                metadata = metadata(file, e.getValue());
            } else {
                infos.add(tensorInfo(file, name, e.getValue()));
            }
        }
        // data order; a stable sort keeps header order among empty tensors at one offset
        infos.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        TensorInfo previous = null;
        for (TensorInfo info : infos) {
            if (info.end() > dataLength) {
                throw new SafetensorsFormatException(file, "tensor '" + info.name() + "' has data_offsets ["
                        + info.begin() + ", " + info.end() + "] but the data section holds only " + dataLength
                        + " bytes (file size " + size + ", header " + n + " bytes): the file is truncated or the "
                        + "offsets are out of range");
            }
            if (info.begin() < expected) {
                throw new SafetensorsFormatException(file, "tensor '" + info.name() + "' data_offsets ["
                        + info.begin() + ", " + info.end() + "] overlap tensor '" + previous.name() + "' at ["
                        + previous.begin() + ", " + previous.end() + "]");
            }
            if (info.begin() > expected) {
                throw new SafetensorsFormatException(file, "gap in the data section: bytes [" + expected + ", "
                        + info.begin() + ") before tensor '" + info.name() + "' belong to no tensor");
            }
            expected = info.end();
            previous = info;
        }
        if (expected != dataLength) {
            throw new SafetensorsFormatException(file, "the data section holds " + dataLength + " bytes but the "
                    + "tensors cover only " + expected + " (" + (dataLength - expected) + " stray bytes at the end"
                    + (previous == null ? "" : ", after tensor '" + previous.name() + "'") + ")");
        }
        return new Header(infos, metadata, dataStart);
    }

    private static SafetensorsFormatException tooManyTensors(Path file) {
        return new SafetensorsFormatException(file, "the header lists more than " + MAX_TENSORS + " tensors (the limit of"
                + " Safetensors.MAX_TENSORS), refused before any is read");
    }

    private static Map<String, String> metadata(Path file, Object value) throws SafetensorsFormatException {
        if (!(value instanceof Map<?, ?> map)) {
            throw new SafetensorsFormatException(file, "'" + METADATA_KEY + "' must be an object of strings, found "
                    + kind(value));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new SafetensorsFormatException(file, "'" + METADATA_KEY + "' entry '" + e.getKey()
                        + "' must be a string, found " + kind(e.getValue()));
            }
            out.put((String) e.getKey(), s);
        }
        return out;
    }

    private static TensorInfo tensorInfo(Path file, String name, Object value) throws SafetensorsFormatException {
        String where = "tensor '" + name + "'";
        if (!(value instanceof Map<?, ?> map)) {
            throw new SafetensorsFormatException(file, where + " must be an object with dtype, shape and "
                    + "data_offsets, found " + kind(value));
        }
        for (Object key : map.keySet()) {
            if (!key.equals("dtype") && !key.equals("shape") && !key.equals("data_offsets")) {
                throw new SafetensorsFormatException(file, where + " has an unexpected key '" + key
                        + "' (expected dtype, shape, data_offsets)");
            }
        }
        Object dtypeValue = require(file, where, map, "dtype");
        if (!(dtypeValue instanceof String dtypeName)) {
            throw new SafetensorsFormatException(file, where + ": dtype must be a string, found " + kind(dtypeValue));
        }
        DType dtype = switch (dtypeName) {
            case "F32" -> DType.FLOAT32;
            case "F64" -> DType.FLOAT64;
            case "I32" -> DType.INT32;
            case "I64" -> DType.INT64;
            case "BOOL" -> DType.BOOL;
            default -> throw new SafetensorsFormatException(file, where + " has dtype '" + dtypeName
                    + "', which grad4j cannot load (supported: F32, F64, I32, I64, BOOL)");
        };
        List<?> shapeList = list(file, where, "shape", require(file, where, map, "shape"));
        int[] shape = new int[shapeList.size()];
        for (int i = 0; i < shape.length; i++) {
            long d = nonNegative(file, where, "shape", shapeList.get(i));
            if (d > Integer.MAX_VALUE) {
                throw new SafetensorsFormatException(file, where + ": dimension " + d + " in shape " + shapeList
                        + " is larger than grad4j's int dimensions allow");
            }
            shape[i] = (int) d;
        }
        List<?> offsets = list(file, where, "data_offsets", require(file, where, map, "data_offsets"));
        if (offsets.size() != 2) {
            throw new SafetensorsFormatException(file, where + ": data_offsets must be [begin, end], found "
                    + offsets);
        }
        long begin = nonNegative(file, where, "data_offsets", offsets.get(0));
        long end = nonNegative(file, where, "data_offsets", offsets.get(1));
        if (end < begin) {
            throw new SafetensorsFormatException(file, where + ": data_offsets [" + begin + ", " + end
                    + "] end before they begin");
        }
        long bytes;
        try {
            long numel = 1;
            for (int d : shape) {
                numel = Math.multiplyExact(numel, d);
            }
            bytes = Math.multiplyExact(numel, elementBytes(dtype));
        } catch (ArithmeticException ex) {
            throw new SafetensorsFormatException(file, where + ": shape " + Arrays.toString(shape)
                    + " has more elements than a long can count");
        }
        if (bytes != end - begin) {
            throw new SafetensorsFormatException(file, where + ": shape " + Arrays.toString(shape) + " of "
                    + dtypeName + " needs " + bytes + " bytes but data_offsets [" + begin + ", " + end + "] span "
                    + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static Object require(Path file, String where, Map<?, ?> map, String key) throws SafetensorsFormatException {
        if (!map.containsKey(key)) {
            throw new SafetensorsFormatException(file, where + " has no '" + key + "'");
        }
        return map.get(key);
    }

    private static List<?> list(Path file, String where, String key, Object value) throws SafetensorsFormatException {
        if (!(value instanceof List<?> l)) {
            throw new SafetensorsFormatException(file, where + ": " + key + " must be an array, found " + kind(value));
        }
        return l;
    }

    private static long nonNegative(Path file, String where, String key, Object value) throws SafetensorsFormatException {
        if (value instanceof BigDecimal d) {
            try {
                long v = d.longValueExact();
                if (v >= 0) {
                    return v;
                }
            } catch (ArithmeticException ignored) {
                // not an integer, or too large: reported below
            }
        }
        throw new SafetensorsFormatException(file, where + ": " + key + " must hold non-negative integers, found "
                + (value instanceof BigDecimal d ? d.toString() : kind(value)));
    }

    private static Tensor readTensor(Path file, FileChannel ch, long dataStart, TensorInfo info, ByteBuffer chunk)
            throws IOException {
        long numel = info.numel();
        if (numel > Integer.MAX_VALUE - 8) {
            throw new SafetensorsFormatException(file, "tensor '" + info.name() + "' has " + numel
                    + " elements, more than one Java array holds");
        }
        int count = (int) numel;
        int size = elementBytes(info.dtype());
        long position = dataStart + info.begin();
        int done = 0;
        if (!info.dtype().isFloatingPoint()) {
            return readIntegers(file, ch, position, info, chunk, count);
        }
        float[] f = info.dtype() == DType.FLOAT32 ? new float[count] : null;
        double[] d = f == null ? new double[count] : null;
        while (done < count) {
            int take = Math.min(count - done, CHUNK_BYTES / size);
            chunk.clear().limit(take * size);
            readFully(file, ch, chunk, position, "tensor '" + info.name() + "'");
            chunk.flip();
            if (f != null) {
                chunk.asFloatBuffer().get(f, done, take);
            } else {
                chunk.asDoubleBuffer().get(d, done, take);
            }
            position += (long) take * size;
            done += take;
        }
        return f != null ? Tensor.of(f, info.shape()) : Tensor.of(d, info.shape());
    }

    private static Tensor readIntegers(Path file, FileChannel ch, long position, TensorInfo info, ByteBuffer chunk, int count)
            throws IOException {
        int size = elementBytes(info.dtype());
        int[] i32 = info.dtype() == DType.INT32 ? new int[count] : null;
        long[] i64 = info.dtype() == DType.INT64 ? new long[count] : null;
        boolean[] bool = info.dtype() == DType.BOOL ? new boolean[count] : null;
        int done = 0;
        long at = position;
        while (done < count) {
            int take = Math.min(count - done, CHUNK_BYTES / size);
            chunk.clear().limit(take * size);
            readFully(file, ch, chunk, at, "tensor '" + info.name() + "'");
            chunk.flip();
            if (i32 != null) {
                chunk.asIntBuffer().get(i32, done, take);
            } else if (i64 != null) {
                chunk.asLongBuffer().get(i64, done, take);
            } else {
                for (int k = 0; k < take; k++) {
                    byte v = chunk.get();
                    if (v != 0 && v != 1) {
                        throw new SafetensorsFormatException(file, "tensor '" + info.name() + "' is BOOL but element "
                                + (done + k) + " is the byte " + (v & 0xff) + " (BOOL bytes are 0 or 1)");
                    }
                    bool[done + k] = v == 1;
                }
            }
            at += (long) take * size;
            done += take;
        }
        return i32 != null ? Tensor.of(i32, info.shape()) : i64 != null ? Tensor.of(i64, info.shape())
                : Tensor.of(bool, info.shape());
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer b, long position, String what)
            throws IOException {
        long p = position;
        while (b.hasRemaining()) {
            int r = ch.read(b, p);
            if (r < 0) {
                throw new SafetensorsFormatException(file, "the file ended at byte " + p + " while reading " + what
                        + " (was it truncated while being read?)");
            }
            p += r;
        }
    }

    static String dtypeName(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> "F32";
            case FLOAT64 -> "F64";
            case INT32 -> "I32";
            case INT64 -> "I64";
            case BOOL -> "BOOL";
        };
    }

    static int elementBytes(DType dtype) {
        return switch (dtype) {
            case FLOAT32, FLOAT64, INT32, INT64, BOOL -> dtype.byteSize();
        };
    }

    private static String kind(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Map) {
            return "an object";
        }
        if (v instanceof List<?> l) {
            return "the array " + l;
        }
        if (v instanceof String s) {
            return "the string \"" + s + "\"";
        }
        return String.valueOf(v);
    }

    private static String excerpt(String text, int offset) {
        int from = Math.max(0, offset - 20);
        int to = Math.min(text.length(), offset + 20);
        return "\"" + text.substring(from, to).replace("\n", "\\n") + "\"";
    }
}
