package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.DTypeConformanceTest;

/** INT32, INT64 and BOOL tensors on the cpu backend. */
class CpuDTypeTest extends DTypeConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
