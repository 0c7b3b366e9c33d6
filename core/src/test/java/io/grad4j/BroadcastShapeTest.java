package io.grad4j;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BroadcastShapeTest {
    @Test
    void shapesAlignOnTheRight() {
        assertArrayEquals(new int[] {2, 3, 4}, BroadcastShape.of("add", new int[] {2, 1, 4}, new int[] {3, 1}));
        assertArrayEquals(new int[] {5}, BroadcastShape.of("add", new int[0], new int[] {5}));
        assertArrayEquals(new int[] {0, 3}, BroadcastShape.of("add", new int[] {0, 1}, new int[] {3}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BroadcastShape.of("mul", new int[] {2, 3}, new int[] {4}));
        assertTrue(e.getMessage().contains("mul") && e.getMessage().contains("[2, 3]") && e.getMessage().contains("[4]"));
    }

    /** Issue 23: [2^30, 1] + [1, 2^30] would be 2^60 elements; refused with the operation and both shapes. */
    @Test
    void aBroadcastResultTooLargeIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BroadcastShape.of("add", new int[] {1 << 30, 1}, new int[] {1, 1 << 30}));
        assertTrue(e.getMessage().contains("add") && e.getMessage().contains("[1073741824, 1]")
                && e.getMessage().contains("[1, 1073741824]") && e.getMessage().contains("2^50"), e.getMessage());
        IllegalArgumentException numel = assertThrows(IllegalArgumentException.class,
                () -> BroadcastShape.numel(new int[] {1 << 24, 1 << 20, 1 << 20}));
        assertTrue(numel.getMessage().contains("[16777216, 1048576, 1048576]"), numel.getMessage());
    }

    @Test
    void broadcastAxesReadWithStrideZero() {
        assertArrayEquals(new long[] {0, 0, 1}, BroadcastShape.strides(new int[] {4}, new int[] {2, 3, 4}));
        assertArrayEquals(new long[] {1, 0}, BroadcastShape.strides(new int[] {3, 1}, new int[] {3, 5}));
        assertArrayEquals(new long[] {12, 4, 1}, BroadcastShape.contiguousStrides(new int[] {2, 3, 4}));
    }

    @Test
    void counterRandomDependsOnlyOnSeedAndIndex() {
        double[] a = CounterRandom.normal(5, 10);
        double[] b = CounterRandom.normal(5, 20);
        for (int i = 0; i < 10; i++) {
            assertTrue(a[i] == b[i], "element " + i + " must not depend on the tensor's size");
        }
        assertNotEquals(CounterRandom.bits(5, 0), CounterRandom.bits(6, 0));
    }
}
