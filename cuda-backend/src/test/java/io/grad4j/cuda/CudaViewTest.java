package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.ViewConformanceTest;

/** Strided views on the GPU (and on the emulated driver); skipped with the probe's reason where there is none. */
@RequiresGpu
class CudaViewTest extends ViewConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
