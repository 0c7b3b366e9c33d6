package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.BackendConformanceTest;

/** The whole primitive conformance suite on the cpu backend (OpenBLAS matmul). */
class CpuConformanceTest extends BackendConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
