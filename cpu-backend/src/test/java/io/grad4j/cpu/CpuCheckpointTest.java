package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.CheckpointConformanceTest;

/** Safetensors files and training checkpoints on the cpu backend. */
class CpuCheckpointTest extends CheckpointConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
