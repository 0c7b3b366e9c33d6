package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.IndexingConformanceTest;

/** Indexing, joining, selection and comparison on the GPU (and the emulated driver); skipped where there is none. */
@RequiresGpu
class CudaIndexingTest extends IndexingConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
