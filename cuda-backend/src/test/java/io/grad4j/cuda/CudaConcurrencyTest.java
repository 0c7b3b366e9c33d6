package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.ConcurrencyConformanceTest;
import org.junit.jupiter.api.BeforeAll;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The thread-safety suite on the GPU (all threads share the backend's one stream); skipped without one. */
class CudaConcurrencyTest extends ConcurrencyConformanceTest {
    @BeforeAll
    static void needsGpu() {
        CudaProbe.Result probe = CudaProbe.result();
        assumeTrue(probe.available(), "no usable CUDA GPU here: " + probe.reason());
    }

    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
