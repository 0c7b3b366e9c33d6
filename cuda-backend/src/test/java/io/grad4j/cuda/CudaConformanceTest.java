package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.BackendConformanceTest;

/** Runs the backend conformance suite (every primitive and tensor op against the naive reference) on the GPU; skipped with the probe's reason where there is none. */
@RequiresGpu
class CudaConformanceTest extends BackendConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
