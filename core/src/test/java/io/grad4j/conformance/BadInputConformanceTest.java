package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.GradCheck;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.checkpoint.Checkpoint;
import io.grad4j.checkpoint.Safetensors;
import io.grad4j.checkpoint.SafetensorsFormatException;
import io.grad4j.data.DataLoader;
import io.grad4j.data.IdxFormatException;
import io.grad4j.data.Mnist;
import io.grad4j.nn.Dropout;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.nn.Sequential;
import io.grad4j.optim.Adam;
import io.grad4j.optim.SGD;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every public entry point given bad arguments, as one table: each row names the call, the
 * exception it must throw and the words its message must contain (the problem and the offending
 * values). Every row runs under a time limit (nothing may hang), and the working directory must
 * hold exactly the same files afterwards (nothing partial is written). A backend module extends
 * this and implements {@link #backend()}.
 */
public abstract class BadInputConformanceTest extends BackendTestBase {
    private static final Duration ROW_LIMIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    /** One row: what is called, what it must throw, what the message must mention. */
    protected record Case(String name, Class<? extends Throwable> type, Executable call, List<String> mentions) {
    }

    protected static Case bad(String name, Class<? extends Throwable> type, Executable call, String... mentions) {
        return new Case(name, type, call, List.of(mentions));
    }

    /** Number of rows the last run of the table had (for the report line). */
    private int rows;

    @TestFactory
    Stream<DynamicTest> everyEntryPointRefusesBadInputWithAClearMessage() throws IOException {
        List<Case> table = table();
        rows = table.size();
        System.out.println("[bad-input] " + backend().name() + ": " + rows + " cases");
        return table.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> check(c)));
    }

    private void check(Case c) throws IOException {
        List<String> before = listing();
        Backend b = backend();
        Throwable thrown = assertTimeoutPreemptively(ROW_LIMIT, () -> {
            // the timeout runs the row on another thread: the backend choice is per thread
            try (Backends.Scope ignored = Backends.use(b)) {
                c.call().execute();
                return null;
            } catch (Throwable t) {
                return t;
            }
        }, c.name() + " hung");
        assertNotNull(thrown, c.name() + ": no exception (expected " + c.type().getSimpleName() + ")");
        if (!c.type().isInstance(thrown)) {
            throw new AssertionError(c.name() + ": expected " + c.type().getSimpleName() + " but got " + thrown, thrown);
        }
        String message = String.valueOf(thrown.getMessage());
        System.out.println("[bad-input] " + c.name() + " -> " + thrown.getClass().getSimpleName() + ": " + message);
        for (String m : c.mentions()) {
            assertTrue(message.contains(m), c.name() + ": the message should mention '" + m + "': " + message);
        }
        assertEquals(before, listing(), c.name() + ": files were written or left behind");
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.map(p -> dir.relativize(p) + (Files.isDirectory(p) ? "/" : " " + size(p))).sorted().toList();
        }
    }

    /** A named pipe made with mkfifo, or null where there is none (the FIFO rows are then skipped). */
    private static Path fifo(Path path) {
        try {
            Process p = new ProcessBuilder("mkfifo", path.toString()).redirectErrorStream(true).start();
            return p.waitFor() == 0 && Files.exists(path) ? path : null;
        } catch (IOException | InterruptedException e) {
            return null;
        }
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---------------------------------------------------------------- the table

    private List<Case> table() throws IOException {
        // inputs, made once (rows create their tensors lazily, on the backend under test)
        Path goodImages = idxImages(dir.resolve("good-images"), 3, 2, 2, 3 * 4);
        Path goodLabels = idxLabels(dir.resolve("good-labels"), 3, new byte[] {1, 2, 3});
        Path emptyImages = idxImages(dir.resolve("empty-images"), 0, 2, 2, 0);
        Path emptyLabels = idxLabels(dir.resolve("empty-labels"), 0, new byte[0]);
        Path badMagic = write(dir.resolve("bad-magic"), ByteBuffer.allocate(16).putInt(1234).putInt(1).putInt(1).putInt(1).array());
        Path hugeHeader = write(dir.resolve("huge-header"), ByteBuffer.allocate(16).putInt(2051).putInt(-5).putInt(28).putInt(28).array());
        Path truncatedImages = idxImages(dir.resolve("truncated-images"), 5, 28, 28, 100);
        Path wrongCount = idxLabels(dir.resolve("wrong-count"), 2, new byte[] {1, 2});
        Path notADigit = idxLabels(dir.resolve("not-a-digit"), 3, new byte[] {1, 12, 3});
        Path truncatedLabels = idxLabels(dir.resolve("truncated-labels"), 3, new byte[] {1});
        Path emptyFile = write(dir.resolve("empty-file"), new byte[0]);
        Path corruptGzip = write(dir.resolve("corrupt.gz"), new byte[] {0x1f, (byte) 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7});
        Path missing = dir.resolve("missing");
        Path claimsMillions = write(dir.resolve("claims-millions"),
                ByteBuffer.allocate(16).putInt(2051).putInt(2_700_000).putInt(28).putInt(28).array());
        Path aFolder = Files.createDirectories(dir.resolve("a-folder"));
        Path fifo = fifo(dir.resolve("a-fifo"));
        Path overLimit = dir.resolve("over-limit.safetensors");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(overLimit.toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(100_000_001L).array());
            f.setLength(8 + 100_000_001L + 8); // sparse: a long enough file without writing 100 MB
        }
        StringBuilder many = new StringBuilder("{");
        for (int i = 0; i <= Safetensors.MAX_TENSORS; i++) {
            many.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
        }
        Path manyTensors = write(dir.resolve("many-tensors.safetensors"),
                safetensors(many.append('}').toString().getBytes(StandardCharsets.UTF_8), 0));

        Path good = dir.resolve("good.safetensors");
        Checkpoint.save(good, Map.of("w", Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2)), Map.of("epoch", "1"));
        byte[] goodBytes = Files.readAllBytes(good);
        Path tiny = write(dir.resolve("tiny.safetensors"), new byte[] {1, 2, 3, 4});
        Path truncatedCkpt = write(dir.resolve("truncated.safetensors"), Arrays.copyOf(goodBytes, goodBytes.length - 5));
        Path hugeLength = write(dir.resolve("huge-length.safetensors"),
                ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        byte[] json = "{\"w\": {\"dtype\": \"F32\", \"shape\": [3, 2], \"data_offsets\": [0, 24]".getBytes(StandardCharsets.UTF_8);
        Path badJson = write(dir.resolve("bad-json.safetensors"), safetensors(json, 24));
        byte[] i8 = "{\"w\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[0,3]}}".getBytes(StandardCharsets.UTF_8);
        Path badDtype = write(dir.resolve("bad-dtype.safetensors"), safetensors(i8, 3));
        Path notSafetensors = write(dir.resolve("text.safetensors"), "hello, this is not a checkpoint\n".getBytes(StandardCharsets.UTF_8));

        Backend other = renamed(backend(), backend().name() + "-copy");

        List<Case> t = new ArrayList<>();
        // ---- creation: shapes and data
        t.add(bad("Tensor.of: data length differs from the shape", IllegalArgumentException.class,
                () -> Tensor.of(new double[3], 2, 2), "3 elements", "[2, 2]", "needs 4"));
        // issue 23: null arguments say which one, rather than an NPE's text (or, for a dtype, a silent FLOAT64)
        t.add(bad("Tensor.of: null data", IllegalArgumentException.class, () -> Tensor.of((double[]) null, 2), "data is null"));
        t.add(bad("Tensor.zeros: null dtype", IllegalArgumentException.class, () -> Tensor.zeros(null, 2), "dtype is null"));
        t.add(bad("Tensor.to: null dtype", IllegalArgumentException.class, () -> f32(2).to((DType) null), "dtype is null"));
        t.add(bad("add: null operand", IllegalArgumentException.class, () -> f32(2).add((Tensor) null), "add", "null"));
        t.add(bad("matmul: null operand", IllegalArgumentException.class, () -> f32(2, 2).matmul(null), "matmul", "null"));
        t.add(bad("backward: null upstream", IllegalArgumentException.class,
                () -> f64(2).requiresGrad(true).mul(2.0).backward(null), "upstream gradient is null"));
        t.add(bad("crossEntropy: null labels", IllegalArgumentException.class,
                () -> f32(2, 3).crossEntropy(null), "labels are null"));
        t.add(bad("Tensor.zeros: negative dimension", IllegalArgumentException.class,
                () -> Tensor.zeros(DType.FLOAT32, 2, -1), "negative", "[2, -1]"));
        t.add(bad("Tensor.zeros: negative dimension after a zero", IllegalArgumentException.class,
                () -> Tensor.zeros(DType.FLOAT32, 0, -5), "negative", "[0, -5]"));
        t.add(bad("Tensor.randn: shape too large", IllegalArgumentException.class,
                () -> Tensor.randn(DType.FLOAT32, 1, 1 << 30, 1 << 30, 1 << 30), "too large"));
        // ---- shapes and ranks
        t.add(bad("add: shapes do not broadcast", IllegalArgumentException.class,
                () -> f32(2, 3).add(f32(4)), "add", "[2, 3]", "[4]"));
        t.add(bad("mul: shapes do not broadcast", IllegalArgumentException.class,
                () -> f32(2, 3).mul(f32(3, 2)), "mul", "[2, 3]", "[3, 2]"));
        t.add(bad("matmul: inner dimensions differ", IllegalArgumentException.class,
                () -> f32(2, 3).matmul(f32(4, 5)), "matmul", "[2, 3]", "[4, 5]"));
        t.add(bad("matmul: rank 0 operand", IllegalArgumentException.class,
                () -> Tensor.scalar(2).matmul(f64(2)), "matmul", "rank", "[]", "[2]"));
        t.add(bad("matmul: batch axes differ", IllegalArgumentException.class,
                () -> f32(2, 3, 4).matmul(f32(3, 4, 5)), "matmul", "[2, 3, 4]", "[3, 4, 5]"));
        t.add(bad("reshape: element count differs", IllegalArgumentException.class,
                () -> f32(2, 3).reshape(4), "reshape", "[4]", "6"));
        t.add(bad("reshape: two -1 axes", IllegalArgumentException.class,
                () -> f32(2, 3).reshape(-1, -1), "reshape", "-1", "[-1, -1]"));
        t.add(bad("transpose(): rank 1", IllegalArgumentException.class,
                () -> f32(3).transpose(), "rank >= 2", "[3]"));
        t.add(bad("item(): more than one element", IllegalArgumentException.class,
                () -> f32(2).item(), "item", "[2]"));
        t.add(bad("backward(): output with several elements", IllegalArgumentException.class,
                () -> f64(2).requiresGrad(true).mul(2).backward(), "backward", "[2]"));
        t.add(bad("backward(upstream): upstream of another shape", IllegalArgumentException.class,
                () -> f64(2).requiresGrad(true).mul(2).backward(f64(3)), "upstream", "[3]", "[2]"));
        t.add(bad("backward(): nothing requires grad", IllegalArgumentException.class,
                () -> f64(2).sum().backward(), "does not require grad"));
        t.add(bad("requiresGrad on a computed tensor", IllegalArgumentException.class,
                () -> f64(2).requiresGrad(true).mul(2).requiresGrad(false), "leaf", "mul"));
        t.add(bad("assign: shapes differ", IllegalArgumentException.class,
                () -> f32(2, 3).assign(f32(3, 2)), "assign", "[2, 3]", "[3, 2]"));
        // ---- axes
        t.add(bad("sum: axis past the rank", IllegalArgumentException.class,
                () -> f32(2, 3).sum(2, false), "sum", "axis 2", "[2, 3]", "-2..1"));
        t.add(bad("mean: negative axis past the rank", IllegalArgumentException.class,
                () -> f32(2, 3).mean(-3, true), "axis -3", "[2, 3]"));
        t.add(bad("max: axis on a scalar", IllegalArgumentException.class,
                () -> Tensor.scalar(1).max(0, false), "axis 0", "[]", "no axes"));
        t.add(bad("softmax: axis out of range", IllegalArgumentException.class,
                () -> f32(2, 3).softmax(5), "softmax", "axis 5", "[2, 3]"));
        t.add(bad("logSoftmax: axis out of range", IllegalArgumentException.class,
                () -> f32(4).logSoftmax(-2), "axis -2", "[4]"));
        t.add(bad("transpose(a, b): axis out of range", IllegalArgumentException.class,
                () -> f32(2, 3).transpose(0, 3), "transpose", "axis 3", "[2, 3]"));
        // ---- dtype and backend mixes
        t.add(bad("add: FLOAT32 + FLOAT64", IllegalArgumentException.class,
                () -> f32(2).add(f64(2)), "add", "FLOAT32", "FLOAT64"));
        t.add(bad("matmul: FLOAT64 @ FLOAT32", IllegalArgumentException.class,
                () -> f64(2, 2).matmul(f32(2, 2)), "matmul", "FLOAT64", "FLOAT32"));
        t.add(bad("sub: tensors on two backends", IllegalArgumentException.class,
                () -> f32(2).sub(on(other, f32(2))), "backends differ", backend().name(), other.name()));
        t.add(bad("Checkpoint.loadInto: dtype differs", IllegalArgumentException.class,
                () -> Checkpoint.loadInto(good, Map.of("w", f64(3, 2))), "'w'", "F32", "F64", "dtype differs", "nothing was loaded"));
        t.add(bad("GradCheck: FLOAT32 inputs", IllegalArgumentException.class,
                () -> GradCheck.check(in -> in[0].sum(), f32(2)), "FLOAT64"));
        // ---- closed tensors
        t.add(bad("add: closed left operand", IllegalStateException.class,
                () -> closed().add(f32(2)), "closed", "[2]"));
        t.add(bad("mul: closed right operand", IllegalStateException.class,
                () -> f32(2).mul(closed()), "closed", "[2]"));
        t.add(bad("toFloatArray of a closed tensor", IllegalStateException.class,
                () -> closed().toFloatArray(), "closed"));
        t.add(bad("backward through a closed leaf's graph", IllegalStateException.class,
                () -> { Tensor x = f64(2).requiresGrad(true); Tensor y = x.mul(x).sum(); x.close(); y.backward(); }, "closed"));
        t.add(bad("Safetensors.save of a closed tensor writes nothing", IllegalStateException.class,
                () -> Safetensors.save(dir.resolve("never.safetensors"), Map.of("w", closed())), "closed"));
        // ---- labels and losses
        t.add(bad("crossEntropy: label >= classes", IllegalArgumentException.class,
                () -> Losses.crossEntropy(f32(2, 3), new int[] {0, 3}), "label 3", "batch index 1", "[0, 3)"));
        t.add(bad("crossEntropy: negative label", IllegalArgumentException.class,
                () -> Losses.crossEntropy(f32(2, 3), new int[] {-1, 0}), "label -1", "batch index 0"));
        t.add(bad("crossEntropy: label count differs from the batch", IllegalArgumentException.class,
                () -> Losses.crossEntropy(f32(2, 3), new int[] {0}), "1 labels", "batch of 2"));
        t.add(bad("crossEntropy: logits of rank 1", IllegalArgumentException.class,
                () -> Losses.crossEntropy(f32(3), new int[] {0}), "[batch, classes]", "[3]"));
        t.add(bad("crossEntropy: empty batch", IllegalArgumentException.class,
                () -> Losses.crossEntropy(f32(0, 3), new int[0]), "empty batch"));
        t.add(bad("Tensor.crossEntropy (the mean): label >= classes", IllegalArgumentException.class,
                () -> f32(2, 3).crossEntropy(new int[] {0, 3}), "label 3", "batch index 1", "[0, 3)"));
        t.add(bad("Tensor.crossEntropy (the mean): empty batch", IllegalArgumentException.class,
                () -> f32(0, 3).crossEntropy(new int[0]), "empty batch"));
        t.add(bad("Tensor.dropout: p = 1", IllegalArgumentException.class, () -> f32(2, 3).dropout(1.0, 7), "p=1.0"));
        t.add(bad("Tensor.dropout: p NaN", IllegalArgumentException.class, () -> f32(2, 3).dropout(Double.NaN, 7), "p=NaN"));
        t.add(bad("Tensor.matmulAdd: bias of the wrong length", IllegalArgumentException.class,
                () -> f32(2, 4).matmulAdd(f32(4, 3), f32(5)), "[2, 3]", "[5]"));
        t.add(bad("Tensor.matmulAdd: inner dimensions differ", IllegalArgumentException.class,
                () -> f32(2, 4).matmulAdd(f32(5, 3), f32(3)), "inner dimensions", "4 vs 5"));
        t.add(bad("Tensor.matmulAdd: dtypes differ", IllegalArgumentException.class,
                () -> f32(2, 4).matmulAdd(f32(4, 3), f64(3)), "FLOAT32", "FLOAT64"));
        t.add(bad("mse: shapes differ", IllegalArgumentException.class,
                () -> Losses.mse(f32(2, 3), f32(3, 2)), "mse", "[2, 3]", "[3, 2]"));
        // ---- modules, optimizers, data loading
        t.add(bad("Linear: zero inputs", IllegalArgumentException.class, () -> new Linear(0, 3, 1), "in=0"));
        t.add(bad("Sequential: no layers", IllegalArgumentException.class, () -> new Sequential(), "at least one layer"));
        t.add(bad("Linear.forward: wrong feature count", IllegalArgumentException.class,
                () -> new Linear(4, 2, 1).forward(f32(3, 5)), "4", "[3, 5]"));
        t.add(bad("Dropout: p = 1", IllegalArgumentException.class, () -> new Dropout(1.0, 1), "p=1.0"));
        t.add(bad("SGD: negative learning rate", IllegalArgumentException.class,
                () -> new SGD(new Linear(2, 2, 1).parameters(), -0.1), "lr=-0.1"));
        t.add(bad("SGD: NaN momentum", IllegalArgumentException.class,
                () -> new SGD(new Linear(2, 2, 1).parameters(), 0.1, Double.NaN, 0), "momentum=NaN"));
        t.add(bad("Adam: beta1 = 1", IllegalArgumentException.class,
                () -> new Adam(new Linear(2, 2, 1).parameters(), 0.1, 1.0, 0.999, 1e-8, 0), "1.0"));
        t.add(bad("SGD.loadState: buffer of the wrong shape", IllegalArgumentException.class,
                () -> sgdWithWrongState(), "SGD.loadState", "[3, 3]"));
        t.add(bad("DataLoader: batch size 0", IllegalArgumentException.class,
                () -> new DataLoader(Mnist.load(goodImages, goodLabels), 0, false, 1), "batch size", "got 0"));
        t.add(bad("DataLoader: empty dataset", IllegalArgumentException.class,
                () -> new DataLoader(Mnist.load(emptyImages, emptyLabels), 8, false, 1), "empty"));
        // ---- NaN / Inf under Autograd.detectAnomaly(): the message names the operation
        t.add(bad("anomaly: sqrt'(0) is infinite", ArithmeticException.class,
                () -> anomaly(() -> Tensor.of(new double[] {0, 4}, 2).requiresGrad(true), x -> x.sqrt().sum()),
                "anomaly", "'sqrt'", "Infinity", "element 0"));
        t.add(bad("anomaly: log'(0) is infinite", ArithmeticException.class,
                () -> anomaly(() -> Tensor.of(new double[] {1, 0}, 2).requiresGrad(true), x -> x.log().sum()),
                "'log'", "Infinity", "element 1"));
        t.add(bad("anomaly: NaN input through exp", ArithmeticException.class,
                () -> anomaly(() -> Tensor.of(new double[] {Double.NaN, 1}, 2).requiresGrad(true), x -> x.exp().sum()),
                "'exp'", "NaN"));
        t.add(bad("anomaly: division by zero", ArithmeticException.class,
                () -> anomaly(() -> Tensor.of(new double[] {1, 2}, 2).requiresGrad(true), x -> Tensor.scalar(1).div(x.sub(2)).sum()),
                "'div'", "Infinity"));
        // ---- IDX (MNIST) files
        t.add(bad("IDX: missing file", IOException.class,
                () -> Mnist.load(missing, goodLabels), missing.toString(), "no such file"));
        t.add(bad("IDX: folder without the MNIST files", NoSuchFileException.class,
                () -> Mnist.train(dir), "train-images-idx3-ubyte", "not found", dir.toString()));
        t.add(bad("IDX: wrong magic number", IdxFormatException.class,
                () -> Mnist.load(badMagic, goodLabels), badMagic.toString(), "magic 1234", "2051"));
        t.add(bad("IDX: negative image count", IdxFormatException.class,
                () -> Mnist.load(hugeHeader, goodLabels), "implausible header", "-5 images of 28x28"));
        t.add(bad("IDX: truncated images", IdxFormatException.class,
                () -> Mnist.load(truncatedImages, goodLabels), truncatedImages.toString(), "truncated"));
        t.add(bad("IDX: empty file", IdxFormatException.class,
                () -> Mnist.load(emptyFile, goodLabels), emptyFile.toString(), "truncated"));
        t.add(bad("IDX: corrupt gzip", IOException.class,
                () -> Mnist.load(corruptGzip, goodLabels), corruptGzip.toString()));
        t.add(bad("IDX: label count differs from image count", IdxFormatException.class,
                () -> Mnist.load(goodImages, wrongCount), "2 labels", "3 images"));
        t.add(bad("IDX: label that is not a digit", IdxFormatException.class,
                () -> Mnist.load(goodImages, notADigit), "label 12", "index 1"));
        t.add(bad("IDX: truncated labels", IdxFormatException.class,
                () -> Mnist.load(goodImages, truncatedLabels), truncatedLabels.toString(), "truncated"));
        // issue 23: a header is never trusted for an allocation; directories and FIFOs are refused by path
        t.add(bad("IDX: a 16-byte file whose header claims 2.7 million images", IdxFormatException.class,
                () -> Mnist.load(claimsMillions, goodLabels), claimsMillions.toString(), "2700000 images of 28x28",
                "2116800000 bytes", "holds only 0"));
        t.add(bad("IDX: a directory in place of the images", FileSystemException.class,
                () -> Mnist.load(aFolder, goodLabels), aFolder.toString(), "is a directory"));
        if (fifo != null) {
            t.add(bad("IDX: a FIFO in place of the labels", FileSystemException.class,
                    () -> Mnist.load(goodImages, fifo), fifo.toString(), "not a regular file"));
            t.add(bad("safetensors: a FIFO in place of the file", FileSystemException.class,
                    () -> Safetensors.load(fifo), fifo.toString(), "not a regular file"));
            t.add(bad("safetensors: header() of a FIFO", FileSystemException.class,
                    () -> Safetensors.header(fifo), fifo.toString(), "not a regular file"));
        }
        t.add(bad("safetensors: a directory in place of the file", FileSystemException.class,
                () -> Safetensors.load(aFolder), aFolder.toString(), "is a directory"));
        t.add(bad("Checkpoint.loadInto: a directory", FileSystemException.class,
                () -> Checkpoint.loadInto(aFolder, Map.of("w", f32(3, 2))), aFolder.toString(), "is a directory"));
        t.add(bad("Safetensors.save onto a directory writes nothing", FileSystemException.class,
                () -> Safetensors.save(aFolder, Map.of("w", f32(2))), aFolder.toString(), "it is a directory"));
        t.add(bad("safetensors: a header of 100,000,001 bytes (the reference reader's limit is 100,000,000)",
                SafetensorsFormatException.class, () -> Safetensors.header(overLimit), "100000001", "limit of 100000000"));
        t.add(bad("safetensors: more tensors than MAX_TENSORS", SafetensorsFormatException.class,
                () -> Safetensors.load(manyTensors), manyTensors.toString(), "more than " + Safetensors.MAX_TENSORS + " tensors"));
        // ---- checkpoint files
        t.add(bad("safetensors: missing file", NoSuchFileException.class,
                () -> Safetensors.load(missing), missing.toString()));
        t.add(bad("safetensors: 4-byte file", SafetensorsFormatException.class,
                () -> Safetensors.load(tiny), tiny.toString(), "4 bytes"));
        t.add(bad("safetensors: empty file", SafetensorsFormatException.class,
                () -> Safetensors.load(emptyFile), "0 bytes"));
        t.add(bad("safetensors: truncated data", SafetensorsFormatException.class,
                () -> Safetensors.load(truncatedCkpt), truncatedCkpt.toString(), "'w'"));
        t.add(bad("safetensors: header length past the file", SafetensorsFormatException.class,
                () -> Safetensors.load(hugeLength), Long.toString(1L << 40)));
        t.add(bad("safetensors: unterminated JSON header", SafetensorsFormatException.class,
                () -> Safetensors.load(badJson), badJson.toString(), "JSON"));
        t.add(bad("safetensors: unsupported dtype", SafetensorsFormatException.class,
                () -> Safetensors.load(badDtype), "I8", "'w'"));
        t.add(bad("safetensors: a text file", SafetensorsFormatException.class,
                () -> Safetensors.header(notSafetensors), notSafetensors.toString()));
        t.add(bad("Checkpoint.loadInto: shape differs", IllegalArgumentException.class,
                () -> Checkpoint.loadInto(good, Map.of("w", f32(2, 3))), "'w'", "[3, 2]", "[2, 3]", "shape differs"));
        t.add(bad("Checkpoint.loadInto: names differ", IllegalArgumentException.class,
                () -> Checkpoint.loadInto(good, Map.of("v", f32(3, 2))), "missing from the file: [v]", "not in the model: [w]"));
        t.add(bad("Safetensors.save into a missing folder writes nothing", NoSuchFileException.class,
                () -> Safetensors.save(missing.resolve("x.safetensors"), Map.of("w", f32(2))),
                missing.resolve("x.safetensors").toString(), "folder " + missing + " does not exist"));
        t.add(bad("Safetensors.save: reserved name writes nothing", IllegalArgumentException.class,
                () -> Safetensors.save(dir.resolve("never.safetensors"), Map.of("__metadata__", f32(2))), "__metadata__"));
        // ---- backends
        t.add(bad("Backends.get: unknown name", IllegalArgumentException.class,
                () -> Backends.get("tpu"), "unknown backend 'tpu'", "installed backends", backend().name()));
        t.add(bad("Backends.get: blank name", IllegalArgumentException.class,
                () -> Backends.get(" "), "unknown backend ''"));
        t.add(bad("Backends.get: null name", NullPointerException.class,
                () -> Backends.get(null), "backend name is null"));
        return t;
    }

    // ---------------------------------------------------------------- helpers

    private static Tensor f32(int... shape) {
        return Tensor.rand(DType.FLOAT32, 3, shape);
    }

    private static Tensor f64(int... shape) {
        return Tensor.rand(DType.FLOAT64, 3, shape);
    }

    private static Tensor closed() {
        Tensor t = f32(2);
        t.close();
        return t;
    }

    private static Tensor on(Backend b, Tensor t) {
        try (Backends.Scope ignored = Backends.use(b)) {
            return Tensor.of(t.toFloatArray(), t.shape());
        }
    }

    private static void sgdWithWrongState() {
        Linear l = new Linear(2, 2, 1);
        SGD sgd = new SGD(l.parameters(), 0.1, 0.9, 0);
        Map<String, Tensor> state = new LinkedHashMap<>(sgd.state());
        if (state.isEmpty()) {
            // no step yet: fabricate the buffer names a step would have made
            Linear probe = new Linear(2, 2, 1);
            SGD stepped = new SGD(probe.parameters(), 0.1, 0.9, 0);
            probe.forward(f32(1, 2)).sum().backward();
            stepped.step();
            state = new LinkedHashMap<>(stepped.state());
        }
        String first = state.keySet().iterator().next();
        state.put(first, f32(3, 3));
        sgd.loadState(state);
    }

    private static void anomaly(java.util.function.Supplier<Tensor> input, java.util.function.Function<Tensor, Tensor> f) {
        Tensor x = input.get();
        try (NoGrad ignored = Autograd.detectAnomaly()) {
            f.apply(x).backward();
        }
    }

    /** A backend that is the given one under another name (a second device of the same kind). */
    private static Backend renamed(Backend b, String name) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("name") && method.getParameterCount() == 0) {
                        return name;
                    }
                    if (method.getDeclaringClass() == Object.class) {
                        return switch (method.getName()) {
                            case "equals" -> proxy == args[0];
                            case "hashCode" -> System.identityHashCode(proxy);
                            default -> name;
                        };
                    }
                    try {
                        return method.invoke(b, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private static Path write(Path p, byte[] bytes) throws IOException {
        return Files.write(p, bytes);
    }

    private static Path idxImages(Path p, int count, int rows, int cols, int pixelBytes) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(2051);
            out.writeInt(count);
            out.writeInt(rows);
            out.writeInt(cols);
            out.write(new byte[pixelBytes]);
        }
        return write(p, bytes.toByteArray());
    }

    private static Path idxLabels(Path p, int count, byte[] labels) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(2049);
            out.writeInt(count);
            out.write(labels);
        }
        return write(p, bytes.toByteArray());
    }

    /** A safetensors file with the given header bytes (padded to 8) and that many zero data bytes. */
    private static byte[] safetensors(byte[] header, int dataBytes) {
        int padded = (header.length + 7) / 8 * 8;
        ByteBuffer b = ByteBuffer.allocate(8 + padded + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(header);
        for (int i = header.length; i < padded; i++) {
            b.put((byte) ' ');
        }
        return b.array();
    }
}
