package io.grad4j.cuda;

import java.nio.ByteBuffer;

/**
 * The driver calls {@link PinnedStaging} needs, behind an interface so its chunking and
 * double-buffering are tested without a GPU (the way {@link DeviceMemory} serves
 * {@link CachingAllocator}). {@code B} is one staging buffer: page-locked host memory together
 * with the event that marks the end of the last copy queued on it. {@code D} is a device pointer.
 * Every copy is queued on the backend's one stream, so copies and kernels run in the order queued.
 */
interface StagingDevice<B, D> {
    /** A page-locked buffer of {@code bytes} bytes with its event, or null when the OS grants no more pinned memory. */
    B allocatePinned(int bytes);

    /** Gives a buffer and its event back; nothing may still be queued on it. */
    void freePinned(B buffer);

    /** The buffer's host memory, {@code bytes} long, position 0 (any byte order; the caller sets it). */
    ByteBuffer hostView(B buffer);

    /** Queues a copy of the buffer's first {@code bytes} bytes to {@code device + deviceOffset}; returns at once. */
    void copyToDeviceAsync(B buffer, D device, long deviceOffset, int bytes);

    /** Queues a copy of {@code bytes} bytes from {@code device + deviceOffset} into the buffer's start; returns at once. */
    void copyToHostAsync(D device, long deviceOffset, B buffer, int bytes);

    /** Records the buffer's event behind everything queued so far. */
    void recordEvent(B buffer);

    /** Blocks until the buffer's last recorded event has completed. */
    void waitEvent(B buffer);
}
