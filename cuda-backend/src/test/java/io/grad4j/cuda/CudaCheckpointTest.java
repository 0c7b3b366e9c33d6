package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.CheckpointConformanceTest;

/** Runs the checkpoint conformance suite (safetensors round trips, loadInto) on the GPU; skipped with the probe's reason where there is none. */
@RequiresGpu
class CudaCheckpointTest extends CheckpointConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
