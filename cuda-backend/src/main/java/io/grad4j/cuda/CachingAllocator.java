package io.grad4j.cuda;

import io.grad4j.backend.DeviceOutOfMemoryException;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
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
 *
 * <p>Private pools serve CUDA graphs: a captured graph replays kernels on the very addresses it
 * was captured with, so no block it touched may be handed to anyone else while the graph exists.
 * Between {@link #beginPool} and {@link #endPool} every allocation is tagged with the pool and
 * every tagged block, released during or after the capture, returns to the pool's own free lists;
 * {@link #closePool} hands the pool's blocks back to the general cache (and blocks released after
 * that go there directly). {@link #emptyCache} never frees pool blocks. Blocks allocated before
 * the capture and released during it go to the pool too: the captured work may have touched them.
 * A graph's input blocks ({@link #allocateInput}) are filled before its replay starts, so they
 * must not be any block that the graph's own kernels also use: they come fresh (never from the
 * pool's free lists) and, once released, are kept aside rather than reused, until the pool closes.
 */
public final class CachingAllocator<H> {
    static final long MIN_BLOCK = 512;
    static final long SMALL_LIMIT = 1L << 20;
    static final long LARGE_GRANULE = 2L << 20;

    /**
     * A block handed out: the device handle, the size of its class in bytes, its private pool (or
     * null), and whether it is a graph input (never reused while its pool is open).
     */
    public record Block<H>(H handle, long bytes, Pool<H> pool, boolean input) {
        public Block(H handle, long bytes) {
            this(handle, bytes, null, false);
        }
    }

    /** Blocks reserved for one CUDA graph; see the class comment. */
    public static final class Pool<H> {
        private final Map<Long, ArrayDeque<H>> free = new HashMap<>();
        /** Released input blocks: kept out of every free list until the pool closes. */
        private final Map<Long, ArrayDeque<H>> retired = new HashMap<>();
        private long freeBytes;
        private boolean closed; // all three fields are guarded by the allocator's monitor
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
    private Pool<H> capturing;

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
        return allocate(bytes, false);
    }

    /**
     * During a capture: a block for one of the graph's host inputs (see the class comment): not
     * from the pool's free lists, and never reused while the pool is open. Elsewhere as {@link #allocate}.
     */
    public synchronized Block<H> allocateInput(long bytes) {
        return allocate(bytes, capturing != null);
    }

    private Block<H> allocate(long bytes, boolean input) {
        long size = sizeClass(bytes);
        if (capturing != null && !input) {
            ArrayDeque<H> own = capturing.free.get(size);
            if (own != null && !own.isEmpty()) {
                capturing.freeBytes -= size;
                cacheHits++;
                return handOut(own.pop(), size, false);
            }
        }
        ArrayDeque<H> list = free.get(size);
        if (list != null && !list.isEmpty()) {
            H h = list.pop();
            cached -= size;
            cacheHits++;
            return handOut(h, size, input);
        }
        H h = device.allocate(size);
        if (h == null && capturing != null) {
            // emptying the cache waits for the stream, which a capture forbids (it would end it)
            throw new DeviceOutOfMemoryException("cuda: out of device memory allocating " + bytes
                    + " bytes (size class " + size + ") during a CUDA graph capture, where the allocator cannot empty"
                    + " its cache: device has " + device.freeBytes() + " bytes free of " + device.totalBytes()
                    + " total; grad4j holds " + inUse + " bytes in live tensors and " + cached + " cached. Call"
                    + " emptyCache() before capturing, or capture a smaller step.", bytes);
        }
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
        return handOut(h, size, input);
    }

    private Block<H> handOut(H h, long size, boolean input) {
        inUse += size;
        peak = Math.max(peak, inUse);
        return new Block<>(h, size, capturing, input);
    }

    /** Returns a block to the cache (the device memory stays allocated for reuse), or to its open pool. */
    public synchronized void release(Block<H> block) {
        inUse -= block.bytes();
        Pool<H> pool = block.pool() != null ? block.pool() : capturing;
        if (pool != null && !pool.closed) {
            (block.input() ? pool.retired : pool.free).computeIfAbsent(block.bytes(), k -> new ArrayDeque<>())
                    .push(block.handle());
            pool.freeBytes += block.bytes();
            return;
        }
        cached += block.bytes();
        free.computeIfAbsent(block.bytes(), k -> new ArrayDeque<>()).push(block.handle());
    }

    /** From now on, allocations belong to a new private pool (one at a time). */
    public synchronized Pool<H> beginPool() {
        if (capturing != null) {
            throw new IllegalStateException("a private pool is already being filled (one CUDA graph capture at a time)");
        }
        capturing = new Pool<>();
        return capturing;
    }

    /** Stops tagging allocations; the pool keeps its blocks until {@link #closePool}. */
    public synchronized void endPool(Pool<H> pool) {
        if (capturing != pool) {
            throw new IllegalStateException("endPool: this pool is not the one being filled");
        }
        capturing = null;
    }

    /** Gives the pool's free blocks to the general cache; its live blocks follow when released. Idempotent. */
    public synchronized void closePool(Pool<H> pool) {
        if (capturing == pool) {
            capturing = null;
        }
        if (pool.closed) {
            return;
        }
        pool.closed = true;
        for (Map<Long, ArrayDeque<H>> lists : List.of(pool.free, pool.retired)) {
            for (Map.Entry<Long, ArrayDeque<H>> e : lists.entrySet()) {
                ArrayDeque<H> list = free.computeIfAbsent(e.getKey(), k -> new ArrayDeque<>());
                for (H h : e.getValue()) {
                    list.push(h);
                    cached += e.getKey();
                }
            }
            lists.clear();
        }
        pool.freeBytes = 0;
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

    /** Bytes of released blocks a pool keeps for its graph. */
    public synchronized long poolFreeBytes(Pool<H> pool) {
        return pool.freeBytes;
    }

    /** Stats count pool-held free blocks as neither in use nor cached. */
    public synchronized Stats stats() {
        return new Stats(inUse, cached, peak, deviceAllocations, cacheHits, cacheFlushes);
    }
}
