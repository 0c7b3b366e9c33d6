package io.grad4j.cuda;

import io.grad4j.DType;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * PinnedStaging's chunking and double-buffering against a fake device whose copies really are
 * asynchronous: a queued copy happens only when an event behind it is waited for, in queue
 * order like a stream. The fake fails the test when the staging breaks the protocol: a buffer
 * refilled or given another copy before its queued copy was waited for, or read while a
 * copy into it is still queued (the buffer then holds poison, so the content check fails).
 */
class PinnedStagingTest {
    /** Poison written into a buffer while a device-to-host copy into it is in flight: a NaN for floats and doubles. */
    private static final byte POISON = (byte) 0xFF;

    /** A fake pinned buffer; its event is "recorded" by the position of a marker in the queue. */
    static final class FakeBuffer {
        final ByteBuffer host;
        final byte[] queuedContent; // what the host had written when its host-to-device copy was queued
        boolean copyNotWaited;
        boolean freed;

        FakeBuffer(int bytes) {
            host = ByteBuffer.allocateDirect(bytes);
            queuedContent = new byte[bytes];
        }
    }

    /** One queued operation: a copy or an event record. */
    private record Op(FakeBuffer buffer, boolean toDevice, boolean event, ByteBuffer device, long offset, int bytes) {
    }

    /** Device memory is a heap ByteBuffer per storage; copies wait in a FIFO until an event behind them is waited for. */
    static final class FakeDevice implements StagingDevice<FakeBuffer, ByteBuffer> {
        final ArrayDeque<Op> queue = new ArrayDeque<>();
        final List<FakeBuffer> allocated = new ArrayList<>();
        int pinnable = Integer.MAX_VALUE;
        boolean hostViewFails;
        int allocationAttempts;
        int waits;
        int maxCopiesInFlight;

        @Override
        public FakeBuffer allocatePinned(int bytes) {
            allocationAttempts++;
            if (allocated.size() >= pinnable) {
                return null;
            }
            FakeBuffer b = new FakeBuffer(bytes);
            allocated.add(b);
            return b;
        }

        @Override
        public void freePinned(FakeBuffer buffer) {
            assertFalse(buffer.freed, "pinned buffer freed twice");
            assertFalse(buffer.copyNotWaited, "pinned buffer freed with a copy still queued on it");
            buffer.freed = true;
        }

        long liveBuffers() {
            return allocated.stream().filter(b -> !b.freed).count();
        }

        @Override
        public ByteBuffer hostView(FakeBuffer buffer) {
            if (hostViewFails) {
                throw new IllegalStateException("no ByteBuffer for this pinned buffer");
            }
            return buffer.host.duplicate().clear().order(ByteOrder.BIG_ENDIAN); // staging must set the order itself
        }

        @Override
        public void copyToDeviceAsync(FakeBuffer buffer, ByteBuffer device, long deviceOffset, int bytes) {
            beforeCopy(buffer, device, deviceOffset, bytes);
            buffer.host.get(0, buffer.queuedContent, 0, bytes);
            queue.add(new Op(buffer, true, false, device, deviceOffset, bytes));
            countInFlight();
        }

        @Override
        public void copyToHostAsync(ByteBuffer device, long deviceOffset, FakeBuffer buffer, int bytes) {
            beforeCopy(buffer, device, deviceOffset, bytes);
            for (int i = 0; i < bytes; i++) {
                buffer.host.put(i, POISON); // the DMA is "writing" it now: unreadable until waited for
            }
            queue.add(new Op(buffer, false, false, device, deviceOffset, bytes));
            countInFlight();
        }

        private void beforeCopy(FakeBuffer buffer, ByteBuffer device, long offset, int bytes) {
            assertFalse(buffer.freed, "copy queued on a freed pinned buffer");
            if (buffer.copyNotWaited) {
                fail("a copy was queued on a pinned buffer whose previous copy was not waited for");
            }
            assertTrue(bytes > 0 && bytes <= buffer.host.capacity(), "copy of " + bytes + " bytes through a "
                    + buffer.host.capacity() + "-byte buffer");
            assertTrue(offset >= 0 && offset + bytes <= device.capacity(), "copy of " + bytes + " bytes at device offset "
                    + offset + " outside a " + device.capacity() + "-byte storage");
            buffer.copyNotWaited = true;
        }

        private void countInFlight() {
            int copies = 0;
            for (Op op : queue) {
                copies += op.event() ? 0 : 1;
            }
            maxCopiesInFlight = Math.max(maxCopiesInFlight, copies);
        }

        @Override
        public void recordEvent(FakeBuffer buffer) {
            queue.add(new Op(buffer, false, true, null, 0, 0));
        }

        @Override
        public void waitEvent(FakeBuffer buffer) {
            waits++;
            Op last = null;
            for (Op op : queue) {
                if (op.buffer() == buffer) {
                    last = op;
                }
            }
            if (last != null && !last.event()) {
                fail("waited for a buffer's event that was not recorded after its last copy");
            }
            if (last != null) {
                while (queue.peekFirst() != last) {
                    complete(queue.pollFirst());
                }
                queue.pollFirst();
            }
            buffer.copyNotWaited = false;
        }

        /** What cuStreamSynchronize does: every queued copy completes. */
        void drain() {
            while (!queue.isEmpty()) {
                complete(queue.pollFirst());
            }
        }

        private void complete(Op op) {
            if (op.event()) {
                return;
            }
            int at = (int) op.offset();
            if (op.toDevice()) {
                int changed = op.buffer().host.slice(0, op.bytes()).mismatch(ByteBuffer.wrap(op.buffer().queuedContent, 0, op.bytes()));
                if (changed >= 0) {
                    fail("a pinned buffer was refilled (byte " + changed + ") while its host-to-device copy was in flight");
                }
                op.device().put(at, op.buffer().host, 0, op.bytes());
            } else {
                op.buffer().host.put(0, op.device(), at, op.bytes());
            }
        }
    }

    private final Random rnd = new Random(7);
    private FakeDevice fake = new FakeDevice();

    private static ByteBuffer storage(long elements, DType dtype) {
        return ByteBuffer.allocate(Math.toIntExact(elements * CudaStorage.elementSize(dtype))).order(ByteOrder.nativeOrder());
    }

    /** Random bit patterns, NaN payloads and signed zeros included: a lossless copy keeps every bit. */
    private float[] randomFloatBits(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = Float.intBitsToFloat(rnd.nextInt());
        }
        return v;
    }

    private double[] randomDoubleBits(int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = Double.longBitsToDouble(rnd.nextLong());
        }
        return v;
    }

    /** The caller's direct path when staging declines (CudaBackend's synchronous cuMemcpy). */
    private static void directUpload(float[] src, ByteBuffer dev) {
        dev.asFloatBuffer().put(0, src);
    }

    private static void directUpload(double[] src, ByteBuffer dev) {
        dev.asDoubleBuffer().put(0, src);
    }

    private static void assertSameBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                fail(what + "[" + i + "]: expected bits " + Integer.toHexString(Float.floatToRawIntBits(expected[i]))
                        + ", got " + Integer.toHexString(Float.floatToRawIntBits(actual[i])));
            }
        }
    }

    private static void assertSameBits(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Double.doubleToRawLongBits(expected[i]) != Double.doubleToRawLongBits(actual[i])) {
                fail(what + "[" + i + "]: expected " + expected[i] + " (bits " + Long.toHexString(Double.doubleToRawLongBits(expected[i]))
                        + "), got " + actual[i] + " (bits " + Long.toHexString(Double.doubleToRawLongBits(actual[i])) + ")");
            }
        }
    }

    /** Element counts around the threshold and around chunk multiples, for elements of {@code size} bytes. */
    private static int[] sizes(long thresholdBytes, int bufferBytes, int size) {
        int t = (int) (thresholdBytes / size);
        int c = bufferBytes / size;
        int many = Math.max(t, c) / c + 5; // a whole number of chunks above the threshold
        return new int[]{0, 1, t - 1, t, t + 1, c - 1, c, c + 1, 2 * c, 2 * c + 1, 3 * c - 1, 3 * c,
                many * c - 1, many * c, many * c + 1, 20 * c + 7};
    }

    /** Configurations: threshold above a chunk (always 3+ chunks), below one (1 and 2 chunks), and three buffers. */
    private static final long[][] CONFIGS = {{256, 96, 2}, {8, 96, 2}, {256, 64, 3}};

    @Test
    void floatsRoundTripExactlyAroundTheThresholdAndChunkBoundaries() {
        for (long[] cfg : CONFIGS) {
            fake = new FakeDevice();
            PinnedStaging<FakeBuffer, ByteBuffer> staging = new PinnedStaging<>(fake, cfg[0], (int) cfg[1], (int) cfg[2]);
            for (int n : sizes(cfg[0], (int) cfg[1], Float.BYTES)) {
                if (n < 0) {
                    continue;
                }
                String what = "float[" + n + "] " + java.util.Arrays.toString(cfg);
                float[] data = randomFloatBits(n);
                float[] original = data.clone();
                ByteBuffer dev = storage(n, DType.FLOAT32);
                boolean staged = staging.upload(data, dev);
                assertEquals(n > 0, staged, what + ": staged (small uploads through the ring, large ones in chunks)");
                if (!staged) {
                    directUpload(data, dev);
                }
                java.util.Arrays.fill(data, 0f); // the caller may reuse its array once upload returns
                float[] back = new float[n];
                if (!staging.download(dev, DType.FLOAT32, back)) {
                    fake.drain();
                    dev.asFloatBuffer().get(0, back);
                }
                assertSameBits(original, back, what + " round trip");
                fake.drain();
                float[] onDevice = new float[n];
                dev.asFloatBuffer().get(0, onDevice);
                assertSameBits(original, onDevice, what + " on the device");
            }
            assertTrue(fake.allocated.size() <= cfg[2] + PinnedStaging.SMALL_BUFFERS,
                    "buffers are allocated once: " + fake.allocated.size());
        }
    }

    @Test
    void doublesRoundTripExactlyAroundTheThresholdAndChunkBoundaries() {
        for (long[] cfg : CONFIGS) {
            fake = new FakeDevice();
            PinnedStaging<FakeBuffer, ByteBuffer> staging = new PinnedStaging<>(fake, cfg[0], (int) cfg[1], (int) cfg[2]);
            for (int n : sizes(cfg[0], (int) cfg[1], Double.BYTES)) {
                if (n < 0) {
                    continue;
                }
                String what = "double[" + n + "] " + java.util.Arrays.toString(cfg);
                double[] data = randomDoubleBits(n);
                double[] original = data.clone();
                ByteBuffer dev = storage(n, DType.FLOAT64);
                boolean staged = staging.upload(data, dev);
                assertEquals(n > 0, staged, what + ": staged (small uploads through the ring, large ones in chunks)");
                if (!staged) {
                    directUpload(data, dev);
                }
                java.util.Arrays.fill(data, 0.0);
                double[] back = new double[n];
                if (!staging.download(dev, DType.FLOAT64, back)) {
                    fake.drain();
                    dev.asDoubleBuffer().get(0, back);
                }
                assertSameBits(original, back, what + " round trip");
                fake.drain();
                double[] onDevice = new double[n];
                dev.asDoubleBuffer().get(0, onDevice);
                assertSameBits(original, onDevice, what + " on the device");
            }
        }
    }

    @Test
    void downloadsConvertFloatStorageToDoublesAndDoubleStorageToFloats() {
        for (long[] cfg : CONFIGS) {
            fake = new FakeDevice();
            PinnedStaging<FakeBuffer, ByteBuffer> staging = new PinnedStaging<>(fake, cfg[0], (int) cfg[1], (int) cfg[2]);
            for (int n : sizes(cfg[0], (int) cfg[1], Float.BYTES)) {
                if (n < 0) {
                    continue;
                }
                // FLOAT32 storage written directly, read into double[]: every float widens exactly
                float[] f = new float[n];
                for (int i = 0; i < n; i++) {
                    f[i] = (float) rnd.nextGaussian() * 1e3f;
                }
                ByteBuffer fdev = storage(n, DType.FLOAT32);
                directUpload(f, fdev);
                double[] wide = new double[n];
                boolean staged = staging.download(fdev, DType.FLOAT32, wide);
                assertEquals(n > 0 && (long) n * Float.BYTES >= cfg[0], staged, "float->double " + n + ": staged");
                if (staged) {
                    double[] expect = new double[n];
                    for (int i = 0; i < n; i++) {
                        expect[i] = f[i];
                    }
                    assertSameBits(expect, wide, "float storage -> double[" + n + "] " + java.util.Arrays.toString(cfg));
                }
            }
            for (int n : sizes(cfg[0], (int) cfg[1], Double.BYTES)) {
                if (n < 0) {
                    continue;
                }
                // FLOAT64 storage read into float[]: each element rounds as a Java (float) cast does
                double[] d = new double[n];
                for (int i = 0; i < n; i++) {
                    d[i] = rnd.nextGaussian() * 1e3;
                }
                if (n > 2) {
                    d[0] = Double.NaN;
                    d[1] = 1e300; // beyond float range: +Infinity
                    d[2] = -0.0;
                }
                ByteBuffer ddev = storage(n, DType.FLOAT64);
                directUpload(d, ddev);
                float[] narrow = new float[n];
                boolean staged = staging.download(ddev, DType.FLOAT64, narrow);
                assertEquals(n > 0 && (long) n * Double.BYTES >= cfg[0], staged, "double->float " + n + ": staged");
                if (staged) {
                    float[] expect = new float[n];
                    for (int i = 0; i < n; i++) {
                        expect[i] = (float) d[i];
                    }
                    assertSameBits(expect, narrow, "double storage -> float[" + n + "] " + java.util.Arrays.toString(cfg));
                }
            }
        }
    }

    @Test
    void backToBackUploadsAndDownloadsShareTheBuffersSafely() {
        PinnedStaging<FakeBuffer, ByteBuffer> staging = new PinnedStaging<>(fake, 256, 96, 2);
        // several uploads leave copies queued across calls; each next use of a buffer must wait first
        List<float[]> data = new ArrayList<>();
        List<ByteBuffer> devs = new ArrayList<>();
        for (int n : new int[]{64, 65, 100, 24 * 7, 1000}) {
            float[] v = randomFloatBits(n);
            ByteBuffer dev = storage(n, DType.FLOAT32);
            assertTrue(staging.upload(v, dev));
            data.add(v.clone());
            devs.add(dev);
            java.util.Arrays.fill(v, 1f);
        }
        // downloads in reverse order, with uploads between them
        for (int i = data.size() - 1; i >= 0; i--) {
            float[] back = new float[data.get(i).length];
            assertTrue(staging.download(devs.get(i), DType.FLOAT32, back));
            assertSameBits(data.get(i), back, "download " + i);
            assertTrue(staging.upload(randomFloatBits(333), storage(333, DType.FLOAT32)));
        }
        assertEquals(2, fake.allocated.size(), "two buffers, allocated once");
        assertEquals(2, fake.allocationAttempts);
    }

    @Test
    void copiesOverlapTheHostWorkAndUploadsDoNotWaitForTheirLastChunks() {
        PinnedStaging<FakeBuffer, ByteBuffer> staging = new PinnedStaging<>(fake, 8, 96, 2);
        float[] v = randomFloatBits(24 * 10 + 3); // 11 chunks
        ByteBuffer dev = storage(v.length, DType.FLOAT32);
        assertTrue(staging.upload(v, dev));
        // double buffering: two copies in flight while the host fills, and upload returns with both queued
        assertEquals(2, fake.maxCopiesInFlight, "copies in flight at once during upload");
        assertEquals(9, fake.waits, "an upload of 11 chunks waits for the first 9 only");
        fake.maxCopiesInFlight = 0;
        float[] back = new float[v.length];
        assertTrue(staging.download(dev, DType.FLOAT32, back));
        assertSameBits(v, back, "round trip");
        assertEquals(2, fake.maxCopiesInFlight, "the next chunk is in flight while the host drains one");
        assertTrue(fake.queue.isEmpty(), "a download leaves nothing queued");
    }

    @Test
    void smallDownloadsStayDirectAndStatisticsCountBothPaths() {
        PinnedStaging<FakeBuffer, ByteBuffer> staging = new PinnedStaging<>(fake, 256, 96, 2, 3);
        assertFalse(staging.download(storage(31, DType.FLOAT64), DType.FLOAT64, new float[31]));
        assertEquals(0, fake.allocationAttempts, "pinned buffers are allocated on the first staged copy only");
        assertTrue(staging.upload(new float[63], storage(63, DType.FLOAT32)));
        assertEquals(3, fake.allocationAttempts, "the small ring, on the first small upload");
        assertTrue(staging.upload(new double[40], storage(40, DType.FLOAT64)));
        assertTrue(staging.download(storage(64, DType.FLOAT32), DType.FLOAT32, new double[64]));
        assertEquals(new PinnedStaging.Stats(3, 63 * 4 + 40 * 8 + 64 * 4, 1, 31 * 8), staging.stats());
        assertEquals(5, fake.allocationAttempts, "then the two large buffers");
    }

    /**
     * Small uploads are queued, not waited for: the caller's array is free at once, the ring's
     * buffers each hold one queued copy, and a buffer is reused only after its copy (a round of
     * the ring ago) has completed. Before, each small upload was a synchronous copy that drained
     * the stream (see the class comment).
     */
    @Test
    void smallUploadsAreQueuedThroughTheRingWithoutWaiting() {
        int ring = 3;
        PinnedStaging<FakeBuffer, ByteBuffer> staging = new PinnedStaging<>(fake, 256, 96, 2, ring);
        List<float[]> sent = new ArrayList<>();
        List<ByteBuffer> devs = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            int n = 1 + 9 * i; // 4 to 220 bytes: each under the threshold
            float[] v = randomFloatBits(n);
            ByteBuffer dev = storage(n, DType.FLOAT32);
            assertTrue(staging.upload(v, dev), "upload " + i);
            sent.add(v.clone());
            devs.add(dev);
            java.util.Arrays.fill(v, 0f); // the caller may reuse its array once upload returns
            assertEquals(Math.max(0, i + 1 - ring), fake.waits, "upload " + i + " waits only for the copy a ring ago");
        }
        assertEquals(ring, fake.maxCopiesInFlight, "one queued copy per buffer of the ring");
        assertEquals(ring, fake.allocated.size());
        fake.drain();
        for (int i = 0; i < sent.size(); i++) {
            float[] onDevice = new float[sent.get(i).length];
            devs.get(i).asFloatBuffer().get(0, onDevice);
            assertSameBits(sent.get(i), onDevice, "small upload " + i + " on the device");
        }
        double[] d = randomDoubleBits(31);
        ByteBuffer ddev = storage(31, DType.FLOAT64);
        assertTrue(staging.upload(d, ddev));
        fake.drain();
        double[] back = new double[31];
        ddev.asDoubleBuffer().get(0, back);
        assertSameBits(d, back, "doubles through the ring");
    }

    @Test
    void refusedPinningForTheRingLeavesSmallUploadsDirectAndLargeOnesStaged() {
        fake.pinnable = 1; // the ring's first buffer is granted, its second refused
        PinnedStaging<FakeBuffer, ByteBuffer> staging = new PinnedStaging<>(fake, 256, 96, 2, 3);
        assertFalse(staging.upload(new float[10], storage(10, DType.FLOAT32)));
        assertFalse(staging.upload(new float[10], storage(10, DType.FLOAT32)));
        assertEquals(2, fake.allocationAttempts, "no retry per small upload after the OS refused");
        assertEquals(0, fake.liveBuffers(), "the ring's granted buffer is freed");
        fake.pinnable = Integer.MAX_VALUE;
        assertTrue(staging.upload(new float[1000], storage(1000, DType.FLOAT32)), "large copies still stage");
        assertEquals(new PinnedStaging.Stats(1, 4000, 2, 80), staging.stats());
    }

    /** Three large copies with {@link #fake} set up to fail pinning; returns the warnings logged. */
    private List<LogRecord> threeCopiesWhilePinningFails(PinnedStaging<FakeBuffer, ByteBuffer> staging) {
        List<LogRecord> warnings = new ArrayList<>();
        Logger log = Logger.getLogger(PinnedStaging.class.getName());
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(r);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        log.addHandler(h);
        try {
            assertFalse(staging.upload(new float[1000], storage(1000, DType.FLOAT32)));
            assertFalse(staging.download(storage(1000, DType.FLOAT32), DType.FLOAT32, new double[1000]));
            assertFalse(staging.upload(new double[1000], storage(1000, DType.FLOAT64)));
        } finally {
            log.removeHandler(h);
        }
        assertEquals(new PinnedStaging.Stats(0, 0, 3, 4000 + 4000 + 8000), staging.stats());
        assertEquals(0, fake.liveBuffers(), "every buffer granted before the failure is freed");
        return warnings;
    }

    @Test
    void refusedPinnedMemoryFallsBackToTheDirectPathWithOneWarning() {
        fake.pinnable = 1; // the first buffer is granted, the second refused
        List<LogRecord> warnings = threeCopiesWhilePinningFails(new PinnedStaging<>(fake, 256, 96, 2));
        assertEquals(1, warnings.size(), "one warning for the refusal, not one per copy");
        assertTrue(warnings.getFirst().getMessage().contains("the OS refused it"), warnings.getFirst().getMessage());
        assertEquals(2, fake.allocationAttempts, "no retry per copy after the OS refused");
    }

    @Test
    void aBufferThatCannotBeSetUpAlsoFallsBackInsteadOfFailingEveryCopy() {
        fake.hostViewFails = true;
        List<LogRecord> warnings = threeCopiesWhilePinningFails(new PinnedStaging<>(fake, 256, 96, 2));
        assertEquals(1, warnings.size(), "one warning, not one per copy");
        assertTrue(warnings.getFirst().getMessage().contains("no ByteBuffer for this pinned buffer"),
                warnings.getFirst().getMessage());
        assertEquals(1, fake.allocationAttempts);
    }

    @Test
    void rejectsConfigurationsThatCannotHoldWholeElements() {
        for (long[] bad : new long[][]{{0, 96, 2, 8}, {256, 100, 2, 8}, {256, 0, 2, 8}, {256, 96, 1, 8}, {256, 96, 2, 0},
                {(1L << 30) + 1, 96, 2, 8}}) {
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> new PinnedStaging<>(fake, bad[0], (int) bad[1], (int) bad[2], (int) bad[3]),
                    java.util.Arrays.toString(bad));
        }
    }

    /**
     * With the real sizes (256 KiB threshold, 2 x 4 MiB buffers) a 12 MiB tensor crosses several
     * chunks; converting it must not allocate anything near its size on the Java heap.
     */
    @Test
    void largeCopiesAndConversionsAllocateNoFullSizeTemporary() {
        assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
                && t.isThreadAllocatedMemorySupported(), "this JVM does not count allocated bytes per thread");
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        PinnedStaging<FakeBuffer, ByteBuffer> staging = new PinnedStaging<>(fake);
        int n = (3 << 20) + 5;
        float[] f = randomFloatBits(n);
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            d[i] = rnd.nextGaussian();
        }
        ByteBuffer fdev = storage(n, DType.FLOAT32);
        ByteBuffer ddev = storage(n, DType.FLOAT64);
        float[] fOut = new float[n];
        double[] dOut = new double[n];
        List<Runnable> steps = List.of(
                () -> assertTrue(staging.upload(f, fdev)),
                () -> assertTrue(staging.upload(d, ddev)),
                () -> assertTrue(staging.download(fdev, DType.FLOAT32, fOut)),
                () -> assertTrue(staging.download(fdev, DType.FLOAT32, dOut)),
                () -> assertTrue(staging.download(ddev, DType.FLOAT64, fOut)),
                () -> assertTrue(staging.download(ddev, DType.FLOAT64, dOut)));
        for (Runnable step : steps) {
            step.run(); // warm-up: class loading and first-call allocations are not the copy's
        }
        String[] names = {"upload float[]", "upload double[]", "float -> float[]", "float -> double[]",
                "double -> float[]", "double -> double[]"};
        for (int i = 0; i < steps.size(); i++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            steps.get(i).run();
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < (256 << 10), names[i] + " of " + n + " elements allocated " + allocated
                    + " bytes on the heap; a full-size temporary would be at least " + (long) n * Float.BYTES);
        }
        assertSameBits(d, dOut, "double round trip");
        float[] narrowed = new float[n];
        for (int i = 0; i < n; i++) {
            narrowed[i] = (float) d[i];
        }
        assertSameBits(narrowed, fOut, "double storage -> float[]");
    }
}
