package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.DTypeConformanceTest;

/** INT32, INT64 and BOOL tensors on the GPU (and the emulated driver); skipped with the probe's reason where there is none. */
@RequiresGpu
class CudaDTypeTest extends DTypeConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
