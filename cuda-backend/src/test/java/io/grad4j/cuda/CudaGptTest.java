package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.GptConformanceTest;

/** The GPT against PyTorch on the cuda backend. */
@RequiresGpu
class CudaGptTest extends GptConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
