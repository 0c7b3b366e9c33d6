package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.AutogradConformanceTest;

/** Runs the autograd conformance suite (gradcheck, JVP/VJP, Jacobians) on the GPU; skipped with the probe's reason where there is none. */
@RequiresGpu
class CudaAutogradTest extends AutogradConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
