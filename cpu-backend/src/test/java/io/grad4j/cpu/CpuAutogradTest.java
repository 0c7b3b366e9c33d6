package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.AutogradConformanceTest;

/** The autograd conformance suite on the cpu backend. */
class CpuAutogradTest extends AutogradConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
