package io.grad4j.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Keeps freed device blocks for reuse, because cuMemAlloc/cuMemFree synchronise the device and
 * cost tens of microseconds while a training step frees and allocates hundreds of tensors.
 *
 * <p>Requests are rounded up to a size class (powers of two from 512 bytes to 1 MiB, then
 * multiples of 2 MiB) and a released block goes to the free list of its class; the next request
 * of that class takes it without touching the device. When the device is out of memory the
 * cache is emptied (after the stream has finished with it) and the allocation retried once; if
 * it still fails the exception names the bytes requested and the device's free and total memory.
 * Thread-safe: storages are released from cleaner threads.
 */
public final class CachingAllocator<H> {
    static final long MIN_BLOCK = 512;
    static final long SMALL_LIMIT = 1L << 20;
    static final long LARGE_GRANULE = 2L << 20;

    /** A block handed out: the device handle and the size of its class in bytes. */
    public record Block<H>(H handle, long bytes) {
    }

    /** Bookkeeping in bytes and counts. */
    public record Stats(long inUseBytes, long cachedBytes, long peakInUseBytes,
                        long deviceAllocations, long cacheHits, long cacheFlushes) {
    }

    private final DeviceMemory<H> device;
    private final Map<Long, ArrayDeque<H>> free = new HashMap<>();
    private long inUse;
    private long cached;
    private long peak;
    private long deviceAllocations;
    private long cacheHits;
    private long cacheFlushes;

    public CachingAllocator(DeviceMemory<H> device) {
        this.device = device;
    }

    /** The class a request of {@code bytes} is rounded up to. */
    public static long sizeClass(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("cannot allocate a negative number of bytes: " + bytes);
        }
        if (bytes <= MIN_BLOCK) {
            return MIN_BLOCK;
        }
        if (bytes <= SMALL_LIMIT) {
            return Long.highestOneBit(bytes - 1) << 1;
        }
        return Math.ceilDiv(bytes, LARGE_GRANULE) * LARGE_GRANULE;
    }

    DeviceMemory<H> device() {
        return device;
    }

    /** A block of at least {@code bytes} bytes, reused from the cache when one of its class is there. */
    public synchronized Block<H> allocate(long bytes) {
        long size = sizeClass(bytes);
        ArrayDeque<H> list = free.get(size);
        if (list != null && !list.isEmpty()) {
            H h = list.pop();
            cached -= size;
            cacheHits++;
            return handOut(h, size);
        }
        H h = device.allocate(size);
        if (h == null) {
            emptyCache();
            cacheFlushes++;
            h = device.allocate(size);
            if (h == null) {
                throw new DeviceOutOfMemoryException("cuda: out of device memory allocating " + bytes
                        + " bytes (size class " + size + ") even after emptying the allocator cache: device has "
                        + device.freeBytes() + " bytes free of " + device.totalBytes() + " total; grad4j holds "
                        + inUse + " bytes in live tensors. Close tensors you no longer need (try-with-resources) "
                        + "or use smaller batches.", bytes);
            }
        }
        deviceAllocations++;
        return handOut(h, size);
    }

    private Block<H> handOut(H h, long size) {
        inUse += size;
        peak = Math.max(peak, inUse);
        return new Block<>(h, size);
    }

    /** Returns a block to the cache (the device memory stays allocated for reuse). */
    public synchronized void release(Block<H> block) {
        inUse -= block.bytes();
        cached += block.bytes();
        free.computeIfAbsent(block.bytes(), k -> new ArrayDeque<>()).push(block.handle());
    }

    /** Frees every cached block on the device, after queued work has finished with them. */
    public synchronized void emptyCache() {
        if (cached == 0) {
            return;
        }
        device.synchronize();
        for (ArrayDeque<H> list : free.values()) {
            for (H h : list) {
                device.free(h);
            }
        }
        free.clear();
        cached = 0;
    }

    public synchronized Stats stats() {
        return new Stats(inUse, cached, peak, deviceAllocations, cacheHits, cacheFlushes);
    }
}
