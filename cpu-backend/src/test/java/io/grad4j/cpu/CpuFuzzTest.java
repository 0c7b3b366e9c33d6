package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.FuzzConformanceTest;

/** The seeded fuzz suite (random expression graphs, random primitive shapes) on the cpu backend. */
class CpuFuzzTest extends FuzzConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
