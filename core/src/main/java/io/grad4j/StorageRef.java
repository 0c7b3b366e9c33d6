package io.grad4j;

import io.grad4j.backend.Storage;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts the tensors that share one {@link Storage} (a tensor and its reshaped or detached views)
 * and releases the storage when the last of them is closed or collected.
 */
final class StorageRef {
    private final Storage storage;
    private final AtomicInteger users = new AtomicInteger(1);

    StorageRef(Storage storage) {
        this.storage = storage;
    }

    Storage storage() {
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
