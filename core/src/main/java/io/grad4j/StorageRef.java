package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Storage;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts the tensors that share one {@link Storage} (a tensor and its reshaped or detached views)
 * and releases the storage when the last of them is closed or collected.
 *
 * <p>It also holds a deferred fill with zeros ({@link #zeroLater}): {@code zeroGrad} marks a
 * gradient buffer as zeros without writing it, because the next backward usually overwrites it
 * whole; a copy into it then replaces a fill plus an add (two launches and four passes over the
 * buffer on a GPU become one launch and two passes). Every read of the buffer goes through
 * {@link #storage()}, which writes the zeros first, so no reader, view included, can see
 * anything else.
 */
final class StorageRef {
    private final Storage storage;
    private final AtomicInteger users = new AtomicInteger(1);
    /** The backend that owes this buffer a fill with zeros; null when none is pending. */
    private volatile Backend zeroPending;

    StorageRef(Storage storage) {
        this.storage = storage;
    }

    /** The buffer, with any deferred zeros written first. */
    Storage storage() {
        if (zeroPending != null) {
            writePendingZeros();
        }
        return storage;
    }

    private synchronized void writePendingZeros() {
        Backend b = zeroPending;
        if (b != null) {
            b.fill(storage, 0.0);
            zeroPending = null;
        }
    }

    /** Marks the buffer as all zeros; {@code backend} writes them when it is next read. */
    synchronized void zeroLater(Backend backend) {
        zeroPending = backend;
    }

    /** Whether the buffer is all zeros not yet written (so whoever overwrites all of it may skip them). */
    synchronized boolean zerosPending() {
        return zeroPending != null;
    }

    /** The buffer for a caller about to overwrite every element: pending zeros are dropped unwritten. */
    synchronized Storage storageToOverwrite() {
        zeroPending = null;
        return storage;
    }

    StorageRef retain() {
        int before = users.getAndIncrement();
        if (before <= 0) {
            throw new IllegalStateException("storage was already released");
        }
        return this;
    }

    void releaseOne() {
        if (users.decrementAndGet() == 0) {
            storage.release();
        }
    }
}
