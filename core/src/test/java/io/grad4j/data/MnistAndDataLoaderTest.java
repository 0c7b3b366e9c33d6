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
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
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
        IdxFormatException truncated = assertThrows(IdxFormatException.class, () -> Mnist.train(dir));
        assertTrue(truncated.getMessage().contains("truncated"), truncated.getMessage());
        byte[] wrongMagic = good.clone();
        wrongMagic[3] = 1;
        Files.write(images, wrongMagic);
        IdxFormatException magic = assertThrows(IdxFormatException.class, () -> Mnist.train(dir));
        assertTrue(magic.getMessage().contains("magic"), magic.getMessage());
        Files.write(images, good);
        Files.write(dir.resolve("train-labels-idx1-ubyte"), idx(2049, new int[] {5}, new byte[5]));
        IdxFormatException count = assertThrows(IdxFormatException.class, () -> Mnist.train(dir));
        assertTrue(count.getMessage().contains("5 labels") && count.getMessage().contains("6 images"), count.getMessage());
        java.nio.file.NoSuchFileException missing = assertThrows(java.nio.file.NoSuchFileException.class, () -> Mnist.test(dir));
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

    /**
     * Issue 23: --batch 2147483647 made (n + batch - 1) / batch overflow to an epoch of no
     * batches, and training "finished" with loss NaN. A batch larger than the dataset is one batch
     * of all of it; with dropLast it would be an epoch of nothing, which is refused.
     */
    @Test
    void aBatchLargerThanTheDatasetIsOneBatchOfAllOfIt() throws IOException {
        writeSet("train", 10, false);
        Mnist train = Mnist.train(dir);
        DataLoader huge = new DataLoader(train, Integer.MAX_VALUE, true, 42);
        assertEquals(1, huge.batchesPerEpoch()); // (the batch itself is made in CliReliabilityTest, on a backend)
        assertEquals(1, new DataLoader(train, Integer.MAX_VALUE - 1, false, 0).batchesPerEpoch());
        assertEquals(2, new DataLoader(train, 5, false, 0).batchesPerEpoch());
        assertEquals(4, new DataLoader(train, 3, false, 0).batchesPerEpoch());
        IllegalArgumentException dropped = assertThrows(IllegalArgumentException.class,
                () -> new DataLoader(train, 11, false, 0, true));
        assertTrue(dropped.getMessage().contains("batch size 11") && dropped.getMessage().contains("10 examples"),
                dropped.getMessage());
    }

    /**
     * Issue 23: a 16-byte IDX file whose header claims 2.7 million 28x28 images made the loader
     * allocate 2.1 GB before reading (OutOfMemoryError under -Xmx512m). The data is now read as it
     * arrives, plain or gzip, and the shortfall reported with both sizes.
     */
    @Test
    void aHeaderClaimingMoreThanTheFileHoldsIsRefusedWithoutTrustingIt() throws IOException {
        byte[] claim = idx(2051, new int[] {2_700_000, 28, 28}, new byte[0]);
        for (boolean gz : new boolean[] {false, true}) {
            Path images = dir.resolve(gz ? "claims.gz" : "claims");
            Files.write(images, gz ? gzip(claim) : claim);
            Path labels = dir.resolve("labels");
            Files.write(labels, idx(2049, new int[] {1}, new byte[] {1}));
            IdxFormatException e = assertThrows(IdxFormatException.class, () -> Mnist.load(images, labels));
            assertTrue(e.getMessage().contains(images.toString()) && e.getMessage().contains("2700000 images of 28x28")
                    && e.getMessage().contains("2116800000 bytes") && e.getMessage().contains("holds only 0"), e.getMessage());
            assertEquals(images.toString(), e.file());
        }
    }

    /**
     * A gzip file of a few kilobytes can honestly hold a gigabyte of zeros: a header promising
     * more pixels than the heap is refused before reading (it ended in an OutOfMemoryError half-way).
     * Sizes whose product wraps a long (2^30 images of 2^30 x 2^30) are implausible, not 0 bytes.
     */
    @Test
    void aHeaderPromisingMoreThanTheHeapOrAWrappingSizeIsRefusedBeforeReading() throws IOException {
        byte[] bomb = gzip(idx(2051, new int[] {1000, 28, 28}, new byte[1000 * 28 * 28]));
        byte[] labels = idx(2049, new int[] {1000}, new byte[1000]);
        IdxFormatException e = assertThrows(IdxFormatException.class, () -> Mnist.load(() -> new java.io.ByteArrayInputStream(bomb), "bomb.gz",
                () -> new java.io.ByteArrayInputStream(labels), "labels", 100_000));
        assertTrue(e.getMessage().startsWith("bomb.gz: the header promises 1000 images") && e.getMessage().contains("784000 bytes of pixels")
                && e.getMessage().contains("whole heap (100000 bytes)"), e.getMessage());
        assertEquals(1000, Mnist.load(() -> new java.io.ByteArrayInputStream(bomb), "bomb.gz",
                () -> new java.io.ByteArrayInputStream(labels), "labels", 1_000_000).size(), "it fits a larger heap");
        byte[] wrapping = idx(2051, new int[] {1 << 30, 1 << 30, 1 << 30}, new byte[0]);
        IdxFormatException w = assertThrows(IdxFormatException.class, () -> Mnist.load(() -> new java.io.ByteArrayInputStream(wrapping),
                "wrapping", () -> new java.io.ByteArrayInputStream(labels), "labels"));
        assertTrue(w.getMessage().contains("implausible header: 1073741824 images of 1073741824x1073741824"), w.getMessage());
    }

    /** A directory or FIFO in place of a data file is refused by path before it is opened (a FIFO would block for ever). */
    @Test
    void directoriesAndFifosAreRefusedByPath() throws Exception {
        writeSet("train", 4, false);
        Path labels = dir.resolve("train-labels-idx1-ubyte");
        Path folder = Files.createDirectories(dir.resolve("folder"));
        java.nio.file.FileSystemException e = assertThrows(java.nio.file.FileSystemException.class,
                () -> Mnist.load(folder, labels));
        assertTrue(e.getMessage().contains(folder.toString()) && e.getMessage().contains("is a directory"), e.getMessage());
        Path fifo = dir.resolve("fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertEquals(0, mk.waitFor(), "mkfifo");
        java.nio.file.FileSystemException f = assertTimeoutPreemptively(java.time.Duration.ofSeconds(20),
                () -> assertThrows(java.nio.file.FileSystemException.class, () -> Mnist.load(dir.resolve("train-images-idx3-ubyte"), fifo)));
        assertTrue(f.getMessage().contains(fifo.toString()) && f.getMessage().contains("not a regular file"), f.getMessage());
    }
}
