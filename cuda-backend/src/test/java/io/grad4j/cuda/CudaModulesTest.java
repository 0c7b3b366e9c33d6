package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.ModulesConformanceTest;

/** Modules, state dicts and the optimizer pieces of real models on the cuda backend. */
@RequiresGpu
class CudaModulesTest extends ModulesConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
