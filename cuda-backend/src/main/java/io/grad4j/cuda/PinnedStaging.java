package io.grad4j.cuda;

import io.grad4j.DType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Moves large host arrays to and from the device through a few page-locked buffers, so the DMA
 * engine copies at full bus speed and the host copies one chunk while the DMA moves the other.
 * A copy from or to a Java array is pageable: the driver bounces it through its own small pinned
 * buffers, and the synchronous call holds up the host and the device for its whole length.
 *
 * <p>Uploads below {@link #THRESHOLD_BYTES} go through a ring of {@link #SMALL_BUFFERS} small
 * pinned buffers instead, one buffer per upload, also asynchronously. Not for speed of transfer:
 * a synchronous copy from pageable memory ({@code cuMemcpyHtoD}) first synchronises the legacy
 * stream, which waits for every kernel queued on the backend's (blocking) stream, so each small
 * upload (a batch's labels, forward and backward; a batch under 256 KiB) drained the queue and
 * the host could no longer run ahead of the GPU. Downloads below the threshold are left to the
 * caller's direct path (the methods return false and the caller copies synchronously): a download
 * waits for the device anyway. Each set of buffers is allocated on its first use; if the OS
 * refuses pinned memory (a finite resource: {@code ulimit -l}, other processes) or a buffer cannot
 * be set up, one warning is logged and those copies take the direct path from then on.
 *
 * <p>The rule that keeps the asynchronous copies safe: each buffer has at most one queued copy,
 * marked by its event, and before the host fills a buffer, reads it, or queues another copy on it,
 * it waits for that event. Everything is queued on the backend's one stream, so the copies are
 * ordered with the kernels queued before and after them without any further waiting.
 *
 * <p>An upload returns once its last chunk is in pinned memory and that chunk's copy is queued,
 * without waiting for the copy. This is safe because the DMA reads the pinned buffer, not the
 * caller's array, which may be changed as soon as upload returns; the buffer itself is only
 * reused after its event has been waited for. A download returns only after every chunk has been
 * read out of pinned memory into the caller's array.
 *
 * <p>Dtype conversions on download (FLOAT32 storage into double[] and back) are done chunk by
 * chunk from the pinned buffer into the array: no temporary array of the tensor's size.
 * Methods are synchronized (one set of buffers); the backend calls them under its own lock anyway.
 */
public final class PinnedStaging<B, D> {
    private static final System.Logger LOG = System.getLogger(PinnedStaging.class.getName());

    /**
     * Copies of fewer bytes do not go through the chunked double buffers: downloads take the
     * direct path, uploads the ring of small buffers. At 256 KiB a pageable copy takes about
     * 10-20 us on PCIe 4/5, the same order as its fixed cost and as what chunked staging adds (a
     * host memcpy of the whole chunk plus an event round trip), so chunking cannot win below it.
     * A starting point from those orders of magnitude, not a measured optimum: tune it with a
     * transfer benchmark.
     */
    static final long THRESHOLD_BYTES = 256L << 10;
    /**
     * Bytes per staging buffer. 4 MiB takes roughly 150-350 us to copy at 12-25 GB/s, so the
     * per-chunk cost (one async copy, one event record, one wait: a few microseconds) stays around
     * 1%, while two of them pin only 8 MiB of host memory for the life of the JVM.
     */
    static final int BUFFER_BYTES = 4 << 20;
    /** Two buffers: the host fills or drains one while the DMA engine copies the other. */
    static final int BUFFERS = 2;
    /**
     * Small uploads in flight at most: the ninth waits for the first one's copy (by then, as a
     * training step makes two or three small uploads, long done). Each buffer holds a copy just
     * under the threshold: 2 MiB pinned in all, on the first small upload.
     */
    static final int SMALL_BUFFERS = 8;

    /** Host-device copies by path: how many, and how many bytes (device-side sizes). */
    public record Stats(long stagedCopies, long stagedBytes, long directCopies, long directBytes) {
    }

    private final StagingDevice<B, D> device;
    private final long thresholdBytes;
    private final int bufferBytes;
    private final int bufferCount;
    private final int smallBufferCount;
    private List<Slot<B>> slots; // null until the first staged copy
    private boolean pinnedUnavailable;
    private int nextSlot;
    private List<Slot<B>> smallSlots; // null until the first small upload
    private boolean smallPinnedUnavailable;
    private int nextSmallSlot;
    private long stagedCopies;
    private long stagedBytes;
    private long directCopies;
    private long directBytes;

    PinnedStaging(StagingDevice<B, D> device) {
        this(device, THRESHOLD_BYTES, BUFFER_BYTES, BUFFERS, SMALL_BUFFERS);
    }

    PinnedStaging(StagingDevice<B, D> device, long thresholdBytes, int bufferBytes, int bufferCount) {
        this(device, thresholdBytes, bufferBytes, bufferCount, SMALL_BUFFERS);
    }

    PinnedStaging(StagingDevice<B, D> device, long thresholdBytes, int bufferBytes, int bufferCount, int smallBufferCount) {
        if (thresholdBytes < 1 || thresholdBytes > 1 << 30 || bufferBytes < Double.BYTES
                || bufferBytes % Double.BYTES != 0 || bufferCount < 2 || smallBufferCount < 1) {
            throw new IllegalArgumentException("pinned staging needs a threshold of 1 byte to 1 GiB, buffers of a "
                    + "positive multiple of 8 bytes and at least 2 of them, and at least 1 small buffer; got threshold "
                    + thresholdBytes + ", " + bufferCount + " x " + bufferBytes + " bytes, " + smallBufferCount
                    + " small buffers");
        }
        this.device = device;
        this.thresholdBytes = thresholdBytes;
        this.bufferBytes = bufferBytes;
        this.bufferCount = bufferCount;
        this.smallBufferCount = smallBufferCount;
    }

    /** A small buffer holds any upload below the threshold, in whole doubles. */
    private int smallBufferBytes() {
        return (int) Math.ceilDiv(thresholdBytes, Double.BYTES) * Double.BYTES;
    }

    /** One pinned buffer, its typed views, and whether a queued copy may still be using it. */
    private static final class Slot<B> {
        final B buffer;
        final FloatBuffer floats;
        final DoubleBuffer doubles;
        boolean copyQueued;

        Slot(B buffer, ByteBuffer host) {
            this.buffer = buffer;
            ByteBuffer bytes = host.order(ByteOrder.nativeOrder());
            this.floats = bytes.asFloatBuffer();
            this.doubles = bytes.asDoubleBuffer();
        }
    }

    /** Moves {@code count} elements between a slot and the caller's array starting at {@code arrayOffset}. */
    @FunctionalInterface
    private interface ChunkCopy<B> {
        void copy(Slot<B> slot, int arrayOffset, int count);
    }

    /** Copies {@code src} to FLOAT32 storage at {@code dst}, or returns false for the caller to copy it directly. */
    public synchronized boolean upload(float[] src, D dst) {
        return upload(dst, src.length, Float.BYTES, (slot, from, count) -> slot.floats.put(0, src, from, count));
    }

    /** Copies {@code src} to FLOAT64 storage at {@code dst}, or returns false for the caller to copy it directly. */
    public synchronized boolean upload(double[] src, D dst) {
        return upload(dst, src.length, Double.BYTES, (slot, from, count) -> slot.doubles.put(0, src, from, count));
    }

    /** Copies storage of {@code srcType} at {@code src} into {@code dst}, converting; false: copy it directly. */
    public synchronized boolean download(D src, DType srcType, double[] dst) {
        if (srcType == DType.FLOAT64) {
            return download(src, dst.length, Double.BYTES, (slot, to, count) -> slot.doubles.get(0, dst, to, count));
        }
        return download(src, dst.length, Float.BYTES, (slot, to, count) -> {
            FloatBuffer floats = slot.floats;
            for (int i = 0; i < count; i++) {
                dst[to + i] = floats.get(i);
            }
        });
    }

    /** Copies storage of {@code srcType} at {@code src} into {@code dst}, converting; false: copy it directly. */
    public synchronized boolean download(D src, DType srcType, float[] dst) {
        if (srcType == DType.FLOAT32) {
            return download(src, dst.length, Float.BYTES, (slot, to, count) -> slot.floats.get(0, dst, to, count));
        }
        return download(src, dst.length, Double.BYTES, (slot, to, count) -> {
            DoubleBuffer doubles = slot.doubles;
            for (int i = 0; i < count; i++) {
                dst[to + i] = (float) doubles.get(i);
            }
        });
    }

    public synchronized Stats stats() {
        return new Stats(stagedCopies, stagedBytes, directCopies, directBytes);
    }

    private boolean upload(D dst, int length, int elementBytes, ChunkCopy<B> fill) {
        long bytes = (long) length * elementBytes;
        if (bytes > 0 && bytes < thresholdBytes) {
            return uploadSmall(dst, length, bytes, fill);
        }
        if (!stages(bytes)) {
            return false;
        }
        int chunk = bufferBytes / elementBytes;
        for (long from = 0; from < length; from += chunk) {
            int count = (int) Math.min(chunk, length - from);
            Slot<B> slot = slots.get(nextSlot);
            nextSlot = (nextSlot + 1) % slots.size();
            awaitQueuedCopy(slot); // the copy queued from this buffer one round ago may still be reading it
            fill.copy(slot, (int) from, count);
            device.copyToDeviceAsync(slot.buffer, dst, from * elementBytes, count * elementBytes);
            markQueued(slot);
        }
        // the last copies stay queued: they read pinned memory only, waited for when a buffer is next used
        stagedCopies++;
        stagedBytes += bytes;
        return true;
    }

    /** One small upload through the next buffer of the ring, queued without waiting for it. */
    private boolean uploadSmall(D dst, int length, long bytes, ChunkCopy<B> fill) {
        if (smallSlots == null && !smallPinnedUnavailable) {
            smallSlots = pin(smallBufferCount, smallBufferBytes(), "uploads under " + thresholdBytes + " bytes");
            smallPinnedUnavailable = smallSlots == null;
        }
        if (smallSlots == null) {
            directCopies++;
            directBytes += bytes;
            return false;
        }
        Slot<B> slot = smallSlots.get(nextSmallSlot);
        nextSmallSlot = (nextSmallSlot + 1) % smallSlots.size();
        awaitQueuedCopy(slot); // its copy from one round ago may still be reading it
        fill.copy(slot, 0, length);
        device.copyToDeviceAsync(slot.buffer, dst, 0, (int) bytes);
        markQueued(slot);
        stagedCopies++;
        stagedBytes += bytes;
        return true;
    }

    private boolean download(D src, int length, int elementBytes, ChunkCopy<B> drain) {
        long bytes = (long) length * elementBytes;
        if (!stages(bytes)) {
            return false;
        }
        int chunk = bufferBytes / elementBytes;
        int chunks = (int) Math.ceilDiv(length, (long) chunk);
        int n = slots.size();
        int first = nextSlot;
        for (int c = 0; c < Math.min(n, chunks); c++) {
            queueDownload(slots.get((first + c) % n), src, c, chunk, length, elementBytes);
        }
        for (int c = 0; c < chunks; c++) {
            Slot<B> slot = slots.get((first + c) % n);
            awaitQueuedCopy(slot); // the DMA must have finished writing the chunk before the host reads it
            long from = (long) c * chunk;
            drain.copy(slot, (int) from, (int) Math.min(chunk, length - from));
            if (c + n < chunks) {
                // the buffer is drained: refill it with the chunk n ahead while the host drains the next one
                queueDownload(slot, src, c + n, chunk, length, elementBytes);
            }
        }
        nextSlot = (first + chunks) % n;
        stagedCopies++;
        stagedBytes += bytes;
        return true;
    }

    private void queueDownload(Slot<B> slot, D src, int c, int chunk, int length, int elementBytes) {
        long from = (long) c * chunk;
        int count = (int) Math.min(chunk, length - from);
        // an upload's copy may still be queued on this buffer; one queued copy per buffer keeps its
        // event meaning exactly "this buffer is free"
        awaitQueuedCopy(slot);
        device.copyToHostAsync(src, from * elementBytes, slot.buffer, count * elementBytes);
        markQueued(slot);
    }

    /** Records the slot's event behind the copy just queued on it. */
    private void markQueued(Slot<B> slot) {
        device.recordEvent(slot.buffer);
        slot.copyQueued = true;
    }

    private void awaitQueuedCopy(Slot<B> slot) {
        if (slot.copyQueued) {
            device.waitEvent(slot.buffer);
            slot.copyQueued = false;
        }
    }

    /** Counts the copy as direct and returns false, or makes sure the buffers exist and returns true. */
    private boolean stages(long bytes) {
        if (bytes < thresholdBytes || !pinBuffers()) {
            directCopies++;
            directBytes += bytes;
            return false;
        }
        return true;
    }

    /**
     * Allocates the buffers on first use. When the OS refuses pinned memory, or setting a buffer up
     * fails, it logs one warning, frees what it got and answers false from then on: staging is an
     * optimisation, and the direct path is always there.
     */
    private boolean pinBuffers() {
        if (slots != null) {
            return true;
        }
        if (pinnedUnavailable) {
            return false;
        }
        slots = pin(bufferCount, bufferBytes, "copies of " + thresholdBytes + " bytes and more");
        pinnedUnavailable = slots == null;
        return slots != null;
    }

    /** {@code count} pinned buffers of {@code bytes} each, or null after one warning naming what they were for. */
    private List<Slot<B>> pin(int count, int bytes, String forWhat) {
        List<B> pinned = new ArrayList<>(count);
        List<Slot<B>> made = new ArrayList<>(count);
        String failure = null;
        try {
            while (made.size() < count && failure == null) {
                B buffer = device.allocatePinned(bytes);
                if (buffer == null) {
                    failure = "the OS refused it (see ulimit -l, and other processes pinning memory)";
                    break;
                }
                pinned.add(buffer);
                Slot<B> slot = new Slot<>(buffer, device.hostView(buffer));
                if ((long) slot.doubles.capacity() * Double.BYTES < bytes) {
                    failure = "a buffer shows only " + (long) slot.doubles.capacity() * Double.BYTES + " bytes to Java";
                }
                made.add(slot);
            }
        } catch (RuntimeException e) {
            failure = "setting it up failed: " + CudaProbe.oneLine(e);
        }
        if (failure == null) {
            return List.copyOf(made);
        }
        LOG.log(System.Logger.Level.WARNING, "grad4j cuda: no pinned staging buffers (" + count + " x " + bytes + " bytes of "
                + "page-locked host memory): " + failure + ". " + Character.toUpperCase(forWhat.charAt(0))
                + forWhat.substring(1) + " go directly from the Java heap instead: correct, but slower.");
        for (B buffer : pinned) {
            device.freePinned(buffer);
        }
        return null;
    }
}
