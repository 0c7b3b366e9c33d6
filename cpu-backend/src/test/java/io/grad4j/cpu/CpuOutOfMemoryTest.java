package io.grad4j.cpu;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backends;
import io.grad4j.backend.DeviceOutOfMemoryException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A tensor larger than the Java heap is the cpu backend's out-of-memory: the type cuda throws, and the JVM goes on. */
class CpuOutOfMemoryTest {
    @Test
    void aTensorLargerThanTheHeapThrowsDeviceOutOfMemoryAndTheJvmGoesOn() {
        int elements = Integer.MAX_VALUE - 8;
        long bytes = (long) elements * Double.BYTES;
        org.junit.jupiter.api.Assumptions.assumeTrue(bytes > Runtime.getRuntime().maxMemory(),
                "the heap (-Xmx " + Runtime.getRuntime().maxMemory() + ") would hold " + bytes + " bytes");
        try (var scope = Backends.use(Backends.get("cpu"))) {
            DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class,
                    () -> Tensor.zeros(DType.FLOAT64, elements));
            assertEquals(bytes, e.requestedBytes());
            assertTrue(e.getMessage().startsWith("cpu: out of Java heap allocating " + bytes + " bytes"), e.getMessage());
            assertTrue(e.getMessage().contains("-Xmx"), e.getMessage());
            assertArrayEquals(new float[] {3, 3}, Tensor.of(new float[] {1, 1}, 2).add(2).toFloatArray());
        }
    }
}
