package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.ConcurrencyConformanceTest;

/** The thread-safety suite on the GPU (all threads share the backend's one stream); skipped without one. */
@RequiresGpu
class CudaConcurrencyTest extends ConcurrencyConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }

    /**
     * Under the emulated driver (cuda-backend's emulated-gpu run) the kernels run on one CPU
     * thread: 4 iterations took about 18 s on the 2-core build machine, 50 would take minutes. A
     * real GPU runs all of them.
     */
    @Override
    protected int iterations() {
        return Boolean.getBoolean(EMULATED_GPU_PROPERTY) ? 4 : super.iterations();
    }

    /** Set by the emulated-gpu test run in cuda-backend's pom. */
    static final String EMULATED_GPU_PROPERTY = "grad4j.test.emulatedGpu";
}
