package io.grad4j.cuda;

import io.grad4j.backend.DeviceOutOfMemoryException;
import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backends;
import io.grad4j.backend.Storage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * On a nearly full device an oversized tensor fails with the allocator's clear message (requested,
 * free and total bytes), and the same JVM keeps computing afterwards. Needs a GPU.
 */
class CudaOutOfMemoryTest {
    private static CudaBackend cuda;

    @BeforeAll
    static void needsGpu() {
        CudaProbe.Result probe = CudaProbe.result();
        assumeTrue(probe.available(), "no usable CUDA GPU here: " + probe.reason());
        cuda = (CudaBackend) Backends.get("cuda");
    }

    @Test
    void oversizedTensorFailsClearlyAndWorkContinues() {
        long free = cuda.freeDeviceBytes();
        long headroom = 1L << 30;
        // fill all but ~1 GiB, in one block (cuMemAlloc reserves without touching the memory)
        Storage ballast = cuda.allocate(DType.FLOAT32, Math.max(0, free - headroom) / 4);
        try {
            DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class,
                    () -> cuda.allocate(DType.FLOAT32, (4L << 30) / 4));
            assertTrue(e.getMessage().contains("out of device memory") && e.getMessage().contains("free of"), e.getMessage());
            assertTrue(e.requestedBytes() >= (4L << 30), "requested bytes reported: " + e.requestedBytes());
        } finally {
            ballast.release();
            cuda.emptyCache();
        }
        try (Backends.Scope s = Backends.use(cuda)) {
            Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
            assertArrayEquals(new float[] {7, 10, 15, 22}, a.matmul(a).toFloatArray());
        }
    }
}
