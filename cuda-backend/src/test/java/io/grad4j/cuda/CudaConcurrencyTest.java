package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.ConcurrencyConformanceTest;

/** The thread-safety suite on the GPU (all threads share the backend's one stream); skipped without one. */
@RequiresGpu
class CudaConcurrencyTest extends ConcurrencyConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
