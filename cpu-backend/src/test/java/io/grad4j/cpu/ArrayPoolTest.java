package io.grad4j.cpu;

import io.grad4j.DType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

class ArrayPoolTest {
    @Test
    void aReleasedArrayServesTheNextAllocationOfItsLength() {
        ArrayPool pool = new ArrayPool(1 << 20);
        float[] a = pool.floats(5000);
        a[7] = 3f;
        pool.give(a);
        assertEquals(20_000, pool.cachedBytes());
        assertNotSame(a, pool.floats(5001), "another length: a new array");
        float[] again = pool.floats(5000);
        assertSame(a, again, "the kept array, contents as they were (the SPI leaves them undefined)");
        assertEquals(3f, again[7]);
        assertEquals(0, pool.cachedBytes());
        assertEquals(1, pool.reusedArrays());
        double[] d = pool.doubles(4096);
        pool.give(d);
        assertSame(d, pool.doubles(4096));
    }

    @Test
    void smallArraysAndArraysPastTheBoundAreLeftToTheGarbageCollector() {
        ArrayPool pool = new ArrayPool(100_000);
        float[] small = new float[ArrayPool.MIN_ELEMENTS - 1];
        pool.give(small);
        assertEquals(0, pool.cachedBytes());
        assertNotSame(small, pool.floats(small.length));
        pool.give(new float[20_000]); // 80,000 bytes: kept
        pool.give(new float[20_000]); // would make 160,000: dropped
        assertEquals(80_000, pool.cachedBytes());
    }

    @Test
    void clearDropsEveryKeptArray() {
        ArrayPool pool = new ArrayPool(1 << 20);
        float[] a = new float[5000];
        double[] d = new double[4096];
        pool.give(a);
        pool.give(d);
        assertEquals(20_000 + 32_768, pool.cachedBytes());
        pool.clear();
        assertEquals(0, pool.cachedBytes());
        assertNotSame(a, pool.floats(5000));
        assertNotSame(d, pool.doubles(4096));
    }

    @Test
    void aStorageGivesItsArrayBackOnceEvenWhenReleasedTwice() {
        // the shared pool may be full from other tests in this JVM, and then keeps nothing more
        CpuStorage.POOL.clear();
        CpuStorage s = CpuStorage.allocate(DType.FLOAT32, 6000);
        long before = CpuStorage.POOL.cachedBytes();
        s.release();
        s.release();
        assertEquals(before + 24_000, CpuStorage.POOL.cachedBytes(), "kept once");
        CpuStorage next = CpuStorage.allocate(DType.FLOAT32, 6000);
        assertSame(s.f, next.f, "the next storage of that length reuses it");
        assertEquals(before, CpuStorage.POOL.cachedBytes());
    }
}
