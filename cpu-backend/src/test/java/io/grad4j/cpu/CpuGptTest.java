package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.GptConformanceTest;

/** The GPT against PyTorch on the cpu backend. */
class CpuGptTest extends GptConformanceTest {
    @Override
    protected Backend backend() {
        return Backends.get("cpu");
    }
}
