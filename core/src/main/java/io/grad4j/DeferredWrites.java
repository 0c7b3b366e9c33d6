package io.grad4j;

import io.grad4j.backend.Backend;

/**
 * Writes core defers because it can usually prove them redundant: {@code zeroGrad} marks a
 * gradient as zeros and the next backward pass copies over it instead of adding to a filled
 * buffer. A backend that records device work for later replay (the cuda backend's CUDA graphs)
 * calls {@link #flush} before it starts recording, so that zeros owed from before the recording
 * are written eagerly, not recorded into the graph and repeated at every replay; while recording,
 * and while recordings exist, it answers false to {@link Backend#canDeferWrites()}.
 */
public final class DeferredWrites {
    private DeferredWrites() {
    }

    /** Writes every deferred zero owed on {@code backend} now, through the backend's own fill. */
    public static void flush(Backend backend) {
        StorageRef.writeOwedZeros(backend);
    }
}
