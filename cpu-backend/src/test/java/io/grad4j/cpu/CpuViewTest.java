package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.ViewConformanceTest;

/** Strided views on the cpu backend. */
class CpuViewTest extends ViewConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
