package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.FuzzConformanceTest;
import org.junit.jupiter.api.BeforeAll;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The seeded fuzz suite on the GPU; skipped with the probe's reason where there is none. */
class CudaFuzzTest extends FuzzConformanceTest {
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
