package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.IndexingConformanceTest;

/** Indexing, joining, selection and comparison on the cpu backend. */
class CpuIndexingTest extends IndexingConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
