package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.ReliabilityConformanceTest;

/** Issue 23's version counter and overflow checks on the GPU; skipped with the probe's reason where there is none. */
@RequiresGpu
class CudaReliabilityTest extends ReliabilityConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
