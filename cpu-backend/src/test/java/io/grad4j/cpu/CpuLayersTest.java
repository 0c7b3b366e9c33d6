package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.LayersConformanceTest;

/** Elementwise functions and functional layers on the cpu backend. */
class CpuLayersTest extends LayersConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
