package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.TrainingConformanceTest;
import org.junit.jupiter.api.BeforeAll;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Runs the training conformance suite (losses, Linear, SGD, Adam, AdamW, schedules, optimizer state, Dropout, tiny networks) on the GPU; skipped with the probe's reason where there is none. */
class CudaTrainingTest extends TrainingConformanceTest {
    @BeforeAll
    static void needsGpu() {
        CudaProbe.Result probe = CudaProbe.result();
        assumeTrue(probe.available(), "no usable CUDA GPU here: " + probe.reason());
    }

    @Override
    protected Backend backend() {
        return Backends.get("cuda");
    }
}
