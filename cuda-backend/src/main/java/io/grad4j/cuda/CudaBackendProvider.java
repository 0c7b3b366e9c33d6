package io.grad4j.cuda;

import io.grad4j.backend.Backend;
import io.grad4j.backend.BackendProvider;

/**
 * Provider "cuda": available when {@link CudaProbe} finds a usable NVIDIA GPU, and then preferred
 * over the CPU (priority 100). Probing happens once and never throws, so {@code auto} selection
 * on a machine without a driver falls back to the CPU with the probe's reason.
 */
public final class CudaBackendProvider implements BackendProvider {
    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public boolean isAvailable() {
        return CudaProbe.result().available();
    }

    @Override
    public String unavailableReason() {
        return CudaProbe.result().reason();
    }

    @Override
    public Backend create() {
        CudaProbe.Result probe = CudaProbe.result();
        if (!probe.available()) {
            throw new IllegalStateException("backend 'cuda' is not available: " + probe.reason());
        }
        return CudaBackend.create(probe, GemmChoice.requested());
    }
}
