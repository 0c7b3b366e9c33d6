package io.grad4j.examples;

import io.grad4j.backend.Backend;
import io.grad4j.cuda.CudaBackend;
import io.grad4j.cuda.DeviceActivity;

/** One line about a backend's memory, and the cuda backend's device activity, for --verbose. */
final class MemoryReport {
    private MemoryReport() {
    }

    static String describe(Backend backend) {
        if (backend instanceof CudaBackend cuda) {
            var s = cuda.memoryStats();
            return String.format(java.util.Locale.ROOT, "device in use %d B, cached %d B, peak %d B",
                    s.inUseBytes(), s.cachedBytes(), s.peakInUseBytes());
        }
        Runtime rt = Runtime.getRuntime();
        return String.format(java.util.Locale.ROOT, "java heap used %d MB of %d MB", (rt.totalMemory() - rt.freeMemory()) >> 20,
                rt.maxMemory() >> 20);
    }

    /** The cuda backend's launch, wait and copy counters so far; null for a backend without them. */
    static DeviceActivity activity(Backend backend) {
        return backend instanceof CudaBackend cuda ? cuda.activity() : null;
    }
}
