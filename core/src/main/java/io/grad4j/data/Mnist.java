package io.grad4j.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Reads MNIST's IDX files (plain or gzip, recognised by their first bytes): images with magic
 * 2051 (uint8, count x rows x cols) and labels with magic 2049. Pixels are scaled to [0, 1].
 * Wrong magic numbers, mismatched counts, labels out of 0-9 and truncated files fail with an
 * {@link IdxFormatException} naming the file and what was wrong.
 */
public final class Mnist implements Dataset {
    private static final int IMAGE_MAGIC = 2051;
    private static final int LABEL_MAGIC = 2049;

    private final byte[] pixels;
    private final byte[] labels;
    private final int features;

    private Mnist(byte[] pixels, byte[] labels, int features) {
        this.pixels = pixels;
        this.labels = labels;
        this.features = features;
    }

    /** The training half of a folder with the standard four files (name or name.gz). */
    public static Mnist train(Path dir) throws IOException {
        return load(find(dir, "train-images-idx3-ubyte"), find(dir, "train-labels-idx1-ubyte"));
    }

    /** The test half of a folder with the standard four files. */
    public static Mnist test(Path dir) throws IOException {
        return load(find(dir, "t10k-images-idx3-ubyte"), find(dir, "t10k-labels-idx1-ubyte"));
    }

    /**
     * Loads two IDX files (plain or gzip). Each must be a regular file: a FIFO or a directory is
     * refused with its path before it is opened (a FIFO would block the read for ever).
     *
     * @throws IdxFormatException for a damaged or non-IDX file (naming it and the values involved)
     * @throws IOException when a file cannot be read (missing, a directory, permission denied)
     */
    public static Mnist load(Path images, Path labelsFile) throws IOException {
        return load(() -> open(images, "an IDX image file"), images.toString(),
                () -> open(labelsFile, "an IDX label file"), labelsFile.toString());
    }

    private static InputStream open(Path file, String what) throws IOException {
        io.grad4j.checkpoint.RegularFile.require(file, what);
        return Files.newInputStream(file);
    }

    /** Opens a stream; lets the files come from disk or the classpath. */
    @FunctionalInterface
    public interface Source {
        InputStream open() throws IOException;
    }

    /**
     * Loads from two byte sources (plain or gzip); the names appear in error messages. Nothing is
     * allocated on the header's word: the data is read as it arrives, so a 16-byte file whose
     * header claims 2.7 million images fails as truncated after reading 16 bytes, instead of
     * allocating 2 GB first.
     */
    public static Mnist load(Source imageSource, String images, Source labelSource, String labelsFile) throws IOException {
        return load(imageSource, images, labelSource, labelsFile, Runtime.getRuntime().maxMemory());
    }

    /**
     * As above, refusing a header that promises more pixel bytes than {@code heapBytes}: a gzip
     * file of a few megabytes can honestly hold gigabytes of zeros, which would end in an
     * OutOfMemoryError half-way through reading; this way it ends with a message before reading.
     */
    static Mnist load(Source imageSource, String images, Source labelSource, String labelsFile, long heapBytes)
            throws IOException {
        byte[] px;
        int count;
        int features;
        try (DataInputStream in = open(imageSource)) {
            int magic = readHeaderInt(in, images);
            if (magic != IMAGE_MAGIC) {
                throw new IdxFormatException(images, "not an IDX image file (magic " + magic + ", expected " + IMAGE_MAGIC + ")");
            }
            count = readHeaderInt(in, images);
            int rows = readHeaderInt(in, images);
            int cols = readHeaderInt(in, images);
            long pixels = (long) rows * cols; // in two steps: count * rows * cols can pass 2^63 and wrap
            if (count < 0 || rows <= 0 || cols <= 0 || pixels > Integer.MAX_VALUE - 8 || count * pixels > Integer.MAX_VALUE - 8) {
                throw new IdxFormatException(images, "implausible header: " + count + " images of " + rows + "x" + cols);
            }
            features = (int) pixels;
            int bytes = count * features;
            if (bytes > heapBytes) {
                throw new IdxFormatException(images, "the header promises " + count + " images of " + rows + "x" + cols
                        + " (" + bytes + " bytes of pixels), more than this JVM's whole heap (" + heapBytes + " bytes); raise"
                        + " -Xmx or load fewer images");
            }
            try {
                px = in.readNBytes(bytes); // grows as data arrives: the header's count is not trusted
            } catch (OutOfMemoryError e) {
                // a gzip bomb under the whole-heap bound: readNBytes holds its chunks and the final
                // array at once, about twice the pixels, and the heap has other tenants
                throw new IdxFormatException(images, "the header promises " + count + " images of " + rows + "x" + cols
                        + " (" + bytes + " bytes of pixels), and the heap ran out while reading them (at most "
                        + heapBytes + " bytes); raise -Xmx or load fewer images");
            }
            if (px.length != bytes) {
                throw new IdxFormatException(images, "truncated: the header promises " + count + " images of " + rows + "x"
                        + cols + " (" + bytes + " bytes of pixels) but the file holds only " + px.length + " after the header");
            }
        } catch (IdxFormatException e) {
            throw e;
        } catch (java.nio.file.FileSystemException e) {
            throw withPath(e, images);
        } catch (IOException e) {
            throw new IOException("cannot read " + images + ": " + reason(e), e);
        }
        byte[] lb;
        try (DataInputStream in = open(labelSource)) {
            int magic = readHeaderInt(in, labelsFile);
            if (magic != LABEL_MAGIC) {
                throw new IdxFormatException(labelsFile, "not an IDX label file (magic " + magic + ", expected " + LABEL_MAGIC + ")");
            }
            int n = readHeaderInt(in, labelsFile);
            if (n != count) {
                throw new IdxFormatException(labelsFile, "holds " + n + " labels but " + images + " holds " + count + " images");
            }
            lb = in.readNBytes(n);
            if (lb.length != n) {
                throw new IdxFormatException(labelsFile, "truncated: the header promises " + n + " labels but the file holds only "
                        + lb.length);
            }
        } catch (IdxFormatException e) {
            throw e;
        } catch (java.nio.file.FileSystemException e) {
            throw withPath(e, labelsFile);
        } catch (IOException e) {
            throw new IOException("cannot read " + labelsFile + ": " + reason(e), e);
        }
        for (int i = 0; i < lb.length; i++) {
            if (lb[i] < 0 || lb[i] > 9) {
                throw new IdxFormatException(labelsFile, "label " + lb[i] + " at index " + i + " is not a digit 0-9");
            }
        }
        return new Mnist(px, lb, features);
    }

    /**
     * A file-system refusal as it is when it already names the path and the reason (a directory
     * or FIFO refused by {@link io.grad4j.checkpoint.RegularFile}), else as "cannot read NAME: reason".
     */
    private static IOException withPath(java.nio.file.FileSystemException e, String name) {
        return e.getReason() != null && e.getFile() != null ? e : new IOException("cannot read " + name + ": " + reason(e), e);
    }

    /** One big-endian int of the header, or an IdxFormatException saying the header is cut short. */
    private static int readHeaderInt(DataInputStream in, String name) throws IOException {
        try {
            return in.readInt();
        } catch (EOFException e) {
            throw new IdxFormatException(name, "truncated: the file ends inside the IDX header", e);
        }
    }

    private static Path find(Path dir, String name) throws IOException {
        Path plain = dir.resolve(name);
        if (Files.isRegularFile(plain)) {
            return plain;
        }
        Path gz = dir.resolve(name + ".gz");
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        if (Files.exists(plain) || Files.exists(gz)) {
            Path there = Files.exists(plain) ? plain : gz;
            io.grad4j.checkpoint.RegularFile.require(there, "the MNIST file " + name); // says what it is instead
        }
        throw new java.nio.file.NoSuchFileException(null, null,
                "MNIST file " + name + "[.gz] not found in " + dir.toAbsolutePath());
    }

    /** What went wrong, in words: a missing file's exception carries only the path as its message. */
    private static String reason(IOException e) {
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "no such file";
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private static DataInputStream open(Source source) throws IOException {
        InputStream raw = new BufferedInputStream(source.open());
        raw.mark(2);
        int b0 = raw.read();
        int b1 = raw.read();
        raw.reset();
        boolean gzip = b0 == 0x1f && b1 == 0x8b;
        return new DataInputStream(gzip ? new BufferedInputStream(new GZIPInputStream(raw)) : raw);
    }

    @Override
    public int size() {
        return labels.length;
    }

    @Override
    public int features() {
        return features;
    }

    @Override
    public void copyFeatures(int i, float[] dst, int offset) {
        int base = i * features;
        for (int k = 0; k < features; k++) {
            dst[offset + k] = SCALED[pixels[base + k] & 0xff];
        }
    }

    /**
     * v / 255f for every byte value: the same floats as dividing, looked up instead of divided per
     * pixel (dividing was 7-9% of the main thread's samples in a profile of the default training on
     * the cpu; an epoch's batches took 5-7 ms that way, 3.7 ms this way).
     */
    private static final float[] SCALED = new float[256];

    static {
        for (int v = 0; v < 256; v++) {
            SCALED[v] = v / 255f;
        }
    }

    @Override
    public int label(int i) {
        return labels[i];
    }
}
