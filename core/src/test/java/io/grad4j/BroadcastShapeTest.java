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
