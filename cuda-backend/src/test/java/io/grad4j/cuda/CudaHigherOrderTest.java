package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.HigherOrderConformanceTest;

/** Gradients of gradients and Hessian-vector products on the GPU (and the emulated driver). */
@RequiresGpu
class CudaHigherOrderTest extends HigherOrderConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
