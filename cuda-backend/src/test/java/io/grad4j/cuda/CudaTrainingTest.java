package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.TrainingConformanceTest;

/** Runs the training conformance suite (losses, Linear, SGD, Adam, AdamW, schedules, optimizer state, Dropout, tiny networks) on the GPU; skipped with the probe's reason where there is none. */
@RequiresGpu
class CudaTrainingTest extends TrainingConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
