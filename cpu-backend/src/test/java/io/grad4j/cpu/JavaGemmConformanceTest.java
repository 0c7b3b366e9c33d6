package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.conformance.BackendConformanceTest;

/** The conformance suite again with the plain-Java matmul, the fallback where OpenBLAS cannot load. */
class JavaGemmConformanceTest extends BackendConformanceTest {
    private static final Backend BACKEND = new CpuBackend(new JavaGemm());

    @Override
    protected Backend backend() {
        return BACKEND;
    }
}
