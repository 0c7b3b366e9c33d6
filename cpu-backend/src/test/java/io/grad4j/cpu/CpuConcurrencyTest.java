package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.ConcurrencyConformanceTest;

/** The thread-safety suite on the cpu backend (its OpenBLAS called from four threads at once included). */
class CpuConcurrencyTest extends ConcurrencyConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
