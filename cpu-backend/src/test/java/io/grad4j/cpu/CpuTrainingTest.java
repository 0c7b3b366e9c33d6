package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.TrainingConformanceTest;

/** Layers, losses, optimizers, schedules and dropout on the cpu backend. */
class CpuTrainingTest extends TrainingConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
