package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.LayersConformanceTest;

/** Elementwise functions and functional layers on the GPU (and the emulated driver); skipped where there is none. */
@RequiresGpu
class CudaLayersTest extends LayersConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
