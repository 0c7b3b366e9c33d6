package io.grad4j.cuda;

/**
 * The raw device-memory calls {@link CachingAllocator} needs, behind an interface so the
 * allocator's bookkeeping is tested without a GPU. {@code H} is the handle of one device block.
 */
public interface DeviceMemory<H> {
    /** A new block of exactly {@code bytes} bytes, or null when the device is out of memory. */
    H allocate(long bytes);

    /** Gives a block back to the device. */
    void free(H block);

    /** Free device memory in bytes now (as cuMemGetInfo reports it). */
    long freeBytes();

    /** Total device memory in bytes. */
    long totalBytes();

    /** Waits for queued work that may still use cached blocks (called before they are freed). */
    default void synchronize() {
    }
}
