package io.grad4j.cuda;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backends;
import io.grad4j.nn.Losses;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Cross-entropy with labels as a device tensor: the same loss and gradient as the host-label
 * form, and the host never waits for the device on the way (no download, no synchronisation
 * until the caller reads a value).
 */
@RequiresGpu
class CudaLabelTensorTest {
    @Test
    void deviceLabelsGiveTheHostLabelsLossWithoutWaitingForTheDevice() {
        CudaBackend cuda = (CudaBackend) Backends.get("cuda");
        try (Backends.Scope ignored = Backends.use(cuda)) {
            int[] host = {3, 0, 4, 4, 1, 2};
            Tensor labels = Tensor.of(new long[] {3, 0, 4, 4, 1, 2}, 6);
            Tensor a = Tensor.randn(DType.FLOAT32, 5, 6, 5).requiresGrad(true);
            Tensor b = a.detach().contiguous().requiresGrad(true);
            cuda.synchronize();
            var before = cuda.activity();
            Tensor loss = Losses.crossEntropy(a, labels);
            loss.backward();
            var during = cuda.activity().since(before);
            assertEquals(0, during.downloads(), "nothing read back: " + during);
            assertEquals(0, during.synchronizations(), "no wait for the device: " + during);
            Tensor expected = Losses.crossEntropy(b, host);
            expected.backward();
            assertEquals(expected.item(), loss.item(), 1e-6);
            assertArrayEquals(b.grad().toFloatArray(), a.grad().toFloatArray(), 1e-6f);
            Tensor bad = Tensor.of(new long[] {3, 0, 5, 4, 1, 2}, 6);
            assertThrows(IndexOutOfBoundsException.class, () -> Losses.crossEntropy(a, bad).item());
        }
    }
}
