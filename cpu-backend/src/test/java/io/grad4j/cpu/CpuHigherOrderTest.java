package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.HigherOrderConformanceTest;

/** Gradients of gradients and Hessian-vector products on the cpu backend. */
class CpuHigherOrderTest extends HigherOrderConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
