package io.grad4j.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** IDX parsing (plain and gzip, corrupt inputs) and the loader's batching and shuffling; no backend needed. */
class MnistAndDataLoaderTest {
    @TempDir
    Path dir;

    private static byte[] idx(int magic, int[] dims, byte[] payload) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(magic);
        for (int d : dims) {
            out.writeInt(d);
        }
        out.write(payload);
        return bytes.toByteArray();
    }

    private static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(raw);
        }
        return bytes.toByteArray();
    }

    private void writeSet(String prefix, int n, boolean gz) throws IOException {
        byte[] px = new byte[n * 4];
        byte[] labels = new byte[n];
        for (int i = 0; i < n; i++) {
            Arrays.fill(px, i * 4, i * 4 + 4, (byte) (i * 10));
            labels[i] = (byte) (i % 10);
        }
        byte[] images = idx(2051, new int[] {n, 2, 2}, px);
        byte[] lab = idx(2049, new int[] {n}, labels);
        Files.write(dir.resolve(prefix + "-images-idx3-ubyte" + (gz ? ".gz" : "")), gz ? gzip(images) : images);
        Files.write(dir.resolve(prefix + "-labels-idx1-ubyte" + (gz ? ".gz" : "")), gz ? gzip(lab) : lab);
    }

    @Test
    void readsPlainAndGzipFiles() throws IOException {
        writeSet("train", 12, false);
        writeSet("t10k", 5, true);
        Mnist train = Mnist.train(dir);
        Mnist test = Mnist.test(dir);
        assertEquals(12, train.size());
        assertEquals(4, train.features());
        assertEquals(5, test.size());
        float[] x = new float[4];
        train.copyFeatures(3, x, 0);
        assertArrayEquals(new float[] {30 / 255f, 30 / 255f, 30 / 255f, 30 / 255f}, x);
        assertEquals(3, train.label(3));
    }

    @Test
    void corruptFilesFailWithClearMessages() throws IOException {
        writeSet("train", 6, false);
        Path images = dir.resolve("train-images-idx3-ubyte");
        byte[] good = Files.readAllBytes(images);
        Files.write(images, Arrays.copyOf(good, good.length - 3));
        IllegalArgumentException truncated = assertThrows(IllegalArgumentException.class, () -> Mnist.train(dir));
        assertTrue(truncated.getMessage().contains("truncated"), truncated.getMessage());
        byte[] wrongMagic = good.clone();
        wrongMagic[3] = 1;
        Files.write(images, wrongMagic);
        IllegalArgumentException magic = assertThrows(IllegalArgumentException.class, () -> Mnist.train(dir));
        assertTrue(magic.getMessage().contains("magic"), magic.getMessage());
        Files.write(images, good);
        Files.write(dir.resolve("train-labels-idx1-ubyte"), idx(2049, new int[] {5}, new byte[5]));
        IllegalArgumentException count = assertThrows(IllegalArgumentException.class, () -> Mnist.train(dir));
        assertTrue(count.getMessage().contains("5 labels") && count.getMessage().contains("6 images"), count.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> Mnist.test(dir));
        assertTrue(missing.getMessage().contains("t10k-images-idx3-ubyte"), missing.getMessage());
    }

    @Test
    void everyExampleAppearsOncePerEpochAndTheLastBatchIsPartial() throws IOException {
        writeSet("train", 10, false);
        DataLoader loader = new DataLoader(Mnist.train(dir), 4, true, 42);
        assertEquals(3, loader.batchesPerEpoch());
        int[] order = loader.order(1);
        int[] sorted = order.clone();
        Arrays.sort(sorted);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, sorted);
        assertArrayEquals(order, loader.order(1), "same seed and epoch, same order");
        assertNotEquals(Arrays.toString(order), Arrays.toString(loader.order(2)), "epochs reshuffle");
        assertEquals(2, new DataLoader(Mnist.train(dir), 4, true, 42, true).batchesPerEpoch());
        assertThrows(IllegalArgumentException.class, () -> new DataLoader(Mnist.train(dir), 0, false, 0));
    }
}
