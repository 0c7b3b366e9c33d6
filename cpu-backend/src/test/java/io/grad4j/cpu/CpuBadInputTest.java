package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.BadInputConformanceTest;

/** The bad-input table on the cpu backend. */
class CpuBadInputTest extends BadInputConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
