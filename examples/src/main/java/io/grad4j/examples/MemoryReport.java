package io.grad4j.examples;

import io.grad4j.backend.Backend;
import io.grad4j.cuda.CudaBackend;

/** One line about a backend's memory, for --verbose. */
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
}
