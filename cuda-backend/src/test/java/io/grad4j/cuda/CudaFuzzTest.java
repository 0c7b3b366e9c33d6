package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.FuzzConformanceTest;

/** The seeded fuzz suite on the GPU; skipped with the probe's reason where there is none. */
@RequiresGpu
class CudaFuzzTest extends FuzzConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
