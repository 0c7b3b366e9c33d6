package io.grad4j.cuda;

import io.grad4j.backend.DeviceOutOfMemoryException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The allocator's bookkeeping against a fake device with a fixed capacity. */
class CachingAllocatorTest {
    /** A device with {@code capacity} bytes; handles are serial numbers. */
    static final class FakeDevice implements DeviceMemory<Integer> {
        final long capacity;
        long used;
        int next;
        int syncs;
        final Set<Integer> live = new HashSet<>();
        final List<Long> sizes = new ArrayList<>();
        final java.util.Map<Integer, Long> blockSizes = new java.util.HashMap<>();

        FakeDevice(long capacity) {
            this.capacity = capacity;
        }

        @Override
        public Integer allocate(long bytes) {
            if (used + bytes > capacity) {
                return null;
            }
            used += bytes;
            sizes.add(bytes);
            int h = next++;
            live.add(h);
            blockSizes.put(h, bytes);
            return h;
        }

        @Override
        public void free(Integer block) {
            assertTrue(live.remove(block), "double free of " + block);
            used -= blockSizes.get(block);
        }

        @Override
        public long freeBytes() {
            return capacity - used;
        }

        @Override
        public long totalBytes() {
            return capacity;
        }

        @Override
        public void synchronize() {
            syncs++;
        }
    }

    @Test
    void sizeClassesRoundUp() {
        assertEquals(512, CachingAllocator.sizeClass(0));
        assertEquals(512, CachingAllocator.sizeClass(1));
        assertEquals(512, CachingAllocator.sizeClass(512));
        assertEquals(1024, CachingAllocator.sizeClass(513));
        assertEquals(4096, CachingAllocator.sizeClass(4000));
        assertEquals(1 << 20, CachingAllocator.sizeClass((1 << 20) - 7));
        assertEquals(1 << 20, CachingAllocator.sizeClass(1 << 20));
        assertEquals(2 << 20, CachingAllocator.sizeClass((1 << 20) + 1));
        assertEquals(4 << 20, CachingAllocator.sizeClass((2 << 20) + 1));
        assertEquals(6 << 20, CachingAllocator.sizeClass((5 << 20)));
        assertThrows(IllegalArgumentException.class, () -> CachingAllocator.sizeClass(-1));
    }

    @Test
    void releasedBlocksAreReusedByTheSameClassOnly() {
        FakeDevice dev = new FakeDevice(1 << 30);
        CachingAllocator<Integer> alloc = new CachingAllocator<>(dev);
        CachingAllocator.Block<Integer> a = alloc.allocate(1000); // class 1024
        assertEquals(1024, a.bytes());
        alloc.release(a);
        CachingAllocator.Block<Integer> b = alloc.allocate(600); // same class 1024
        assertSame(a.handle(), b.handle());
        CachingAllocator.Block<Integer> c = alloc.allocate(2000); // class 2048: new device block
        assertNotEquals(a.handle(), c.handle());
        assertEquals(2, dev.sizes.size());
        CachingAllocator.Stats s = alloc.stats();
        assertEquals(1024 + 2048, s.inUseBytes());
        assertEquals(0, s.cachedBytes());
        assertEquals(2, s.deviceAllocations());
        assertEquals(1, s.cacheHits());
    }

    @Test
    void statsTrackInUseCachedAndPeak() {
        FakeDevice dev = new FakeDevice(1 << 30);
        CachingAllocator<Integer> alloc = new CachingAllocator<>(dev);
        var a = alloc.allocate(3 << 20); // 4 MiB class
        var b = alloc.allocate(100);     // 512
        assertEquals((4 << 20) + 512, alloc.stats().inUseBytes());
        alloc.release(a);
        CachingAllocator.Stats s = alloc.stats();
        assertEquals(512, s.inUseBytes());
        assertEquals(4 << 20, s.cachedBytes());
        assertEquals((4 << 20) + 512, s.peakInUseBytes());
        alloc.release(b);
        alloc.emptyCache();
        s = alloc.stats();
        assertEquals(0, s.inUseBytes());
        assertEquals(0, s.cachedBytes());
        assertEquals((4 << 20) + 512, s.peakInUseBytes());
        assertTrue(dev.live.isEmpty(), "emptyCache frees every cached block on the device");
        assertEquals(1, dev.syncs, "queued work is waited for before freeing");
    }

    @Test
    void outOfMemoryEmptiesTheCacheAndRetriesOnce() {
        FakeDevice dev = new FakeDevice(8 << 20);
        CachingAllocator<Integer> alloc = new CachingAllocator<>(dev);
        var a = alloc.allocate(4 << 20);
        var b = alloc.allocate(4 << 20);
        alloc.release(a);
        alloc.release(b);
        // 6 MiB class: nothing cached fits, the device is full of cached 4 MiB blocks
        var c = alloc.allocate(5 << 20);
        assertEquals(6 << 20, c.bytes());
        CachingAllocator.Stats s = alloc.stats();
        assertEquals(1, s.cacheFlushes());
        assertEquals(0, s.cachedBytes());
        assertEquals(6 << 20, s.inUseBytes());
        assertEquals(1, dev.live.size());
    }

    @Test
    void outOfMemoryAfterRetryNamesRequestedFreeAndTotal() {
        FakeDevice dev = new FakeDevice(8 << 20);
        CachingAllocator<Integer> alloc = new CachingAllocator<>(dev);
        alloc.allocate(6 << 20);
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> alloc.allocate(3 << 20));
        assertEquals(3 << 20, e.requestedBytes());
        String m = e.getMessage();
        assertTrue(m.contains(String.valueOf(3 << 20)), m);
        assertTrue(m.contains((2 << 20) + " bytes free"), m);
        assertTrue(m.contains(String.valueOf(8 << 20)), m);
        assertEquals(6 << 20, alloc.stats().inUseBytes(), "a failed allocation changes no bookkeeping");
    }

    @Test
    void aPoolKeepsItsBlocksFromOthersUntilClosed() {
        FakeDevice dev = new FakeDevice(1 << 20);
        CachingAllocator<Integer> alloc = new CachingAllocator<>(dev);
        CachingAllocator.Block<Integer> before = alloc.allocate(1000);
        alloc.release(before); // in the general cache now

        CachingAllocator.Pool<Integer> pool = alloc.beginPool();
        CachingAllocator.Block<Integer> a = alloc.allocate(1000);
        assertSame(pool, a.pool());
        assertEquals(before.handle(), a.handle(), "a capture may take blocks from the general cache");
        alloc.release(a); // released during the capture: back to the pool, reusable by the capture
        CachingAllocator.Block<Integer> b = alloc.allocate(900);
        assertEquals(a.handle(), b.handle(), "the capture reuses its own released block");
        CachingAllocator.Block<Integer> kept = alloc.allocate(4000); // e.g. a loss the caller reads after replays
        alloc.release(b);
        alloc.endPool(pool);

        assertEquals(1024, alloc.poolFreeBytes(pool));
        CachingAllocator.Block<Integer> other = alloc.allocate(1000);
        assertNotEquals(a.handle(), other.handle(), "after the capture nobody else gets the graph's blocks");
        assertEquals(null, other.pool());
        alloc.release(kept); // released after the capture, while the graph lives: still the pool's
        assertEquals(1024 + 4096, alloc.poolFreeBytes(pool));
        alloc.emptyCache();
        assertTrue(dev.live.contains(a.handle()) && dev.live.contains(kept.handle()), "emptyCache spares pool blocks");

        alloc.closePool(pool);
        assertEquals(0, alloc.poolFreeBytes(pool));
        assertEquals(1024 + 4096, alloc.stats().cachedBytes(), "closing hands the pool's blocks to the cache");
        assertEquals(a.handle(), alloc.allocate(1000).handle());
        alloc.closePool(pool); // idempotent
    }

    @Test
    void blocksReleasedAfterThePoolClosedGoToTheCache() {
        CachingAllocator<Integer> alloc = new CachingAllocator<>(new FakeDevice(1 << 20));
        CachingAllocator.Pool<Integer> pool = alloc.beginPool();
        CachingAllocator.Block<Integer> live = alloc.allocate(3000);
        alloc.endPool(pool);
        alloc.closePool(pool);
        alloc.release(live);
        assertEquals(4096, alloc.stats().cachedBytes());
        assertEquals(0, alloc.poolFreeBytes(pool));
    }

    @Test
    void onePoolAtATime() {
        CachingAllocator<Integer> alloc = new CachingAllocator<>(new FakeDevice(1 << 20));
        CachingAllocator.Pool<Integer> pool = alloc.beginPool();
        assertThrows(IllegalStateException.class, alloc::beginPool);
        alloc.endPool(pool);
        assertThrows(IllegalStateException.class, () -> alloc.endPool(pool));
        CachingAllocator.Pool<Integer> next = alloc.beginPool();
        alloc.closePool(next); // closing ends filling too
        alloc.closePool(pool);
        alloc.beginPool();
    }

    @Test
    void graphInputsAreFreshAndNeverReusedWhileTheirPoolIsOpen() {
        CachingAllocator<Integer> alloc = new CachingAllocator<>(new FakeDevice(1 << 20));
        CachingAllocator.Pool<Integer> pool = alloc.beginPool();
        CachingAllocator.Block<Integer> temp = alloc.allocate(300); // a temporary the graph writes early
        alloc.release(temp);
        CachingAllocator.Block<Integer> labels = alloc.allocateInput(300);
        assertTrue(labels.input());
        assertNotEquals(temp.handle(), labels.handle(), "an input filled before the replay must not be a temporary's block");
        alloc.release(labels); // the forward pass is done with its labels
        CachingAllocator.Block<Integer> next = alloc.allocate(300);
        assertNotEquals(labels.handle(), next.handle(), "a released input is not handed out again during the capture");
        CachingAllocator.Block<Integer> nextInput = alloc.allocateInput(300);
        assertNotEquals(labels.handle(), nextInput.handle());
        alloc.endPool(pool);
        assertNotEquals(labels.handle(), alloc.allocate(300).handle(), "nor after it, while the graph lives");
        alloc.closePool(pool);
        assertEquals(labels.handle(), alloc.allocate(300).handle(), "closing returns retired inputs to the cache");
        assertEquals(false, alloc.allocateInput(300).input(), "outside a capture an input is an ordinary block");
    }

    @Test
    void blocksFromBeforeACaptureReleasedDuringItStayWithTheGraph() {
        CachingAllocator<Integer> alloc = new CachingAllocator<>(new FakeDevice(1 << 20));
        CachingAllocator.Block<Integer> old = alloc.allocate(2000); // e.g. read by captured kernels, then closed
        CachingAllocator.Pool<Integer> pool = alloc.beginPool();
        alloc.release(old);
        alloc.endPool(pool);
        assertEquals(2048, alloc.poolFreeBytes(pool));
        assertNotEquals(old.handle(), alloc.allocate(2000).handle(), "eager work after the capture must not get it");
        alloc.closePool(pool);
        assertEquals(old.handle(), alloc.allocate(2000).handle());
    }

    @Test
    void runningOutOfMemoryDuringACaptureFailsWithoutWaitingForTheStream() {
        FakeDevice dev = new FakeDevice(4096);
        CachingAllocator<Integer> alloc = new CachingAllocator<>(dev);
        alloc.release(alloc.allocate(4096)); // cached: a flush could free it, but only by waiting
        alloc.beginPool();
        alloc.allocate(4096); // the cached block
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> alloc.allocate(2048));
        assertTrue(e.getMessage().contains("during a CUDA graph capture"), e.getMessage());
        assertEquals(0, dev.syncs, "a capture forbids synchronising the stream");
    }
}
