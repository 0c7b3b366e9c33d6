package org.example.consumer;

import io.grad4j.Tensor;
import io.grad4j.backend.Backends;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class FitLineTest {
    @Test
    void theCpuBackendIsFoundWithNothingButCoreAndOneBackend() {
        assertEquals("cpu", Backends.current().name());
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new float[] {5, 6, 7, 8}, 2, 2);
        assertArrayEquals(new float[] {19, 22, 43, 50}, a.matmul(b).toFloatArray());
    }

    @Test
    void sgdFitsTheLine() {
        double[] r = FitLine.fit(300);
        assertEquals(3.0, r[0], 1e-6);
        assertEquals(-1.0, r[1], 1e-6);
    }
}
