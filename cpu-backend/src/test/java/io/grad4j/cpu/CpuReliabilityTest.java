package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.ReliabilityConformanceTest;

/** Issue 23's version counter and overflow checks on the cpu backend. */
class CpuReliabilityTest extends ReliabilityConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
