package io.grad4j.bench;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;

/** Resolves a benchmark's backend parameter; a GPU result is only real once the device has finished. */
final class BenchBackend {
    private BenchBackend() {
    }

    static Backend named(String name) {
        return Backends.get(name);
    }
}
