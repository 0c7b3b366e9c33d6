package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Storage;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Counts the tensors that share one {@link Storage} (a tensor and its reshaped or detached views)
 * and releases the storage when the last of them is closed or collected.
 *
 * <p>It also holds a deferred fill with zeros ({@link #zeroLater}): {@code zeroGrad} marks a
 * gradient buffer as zeros without writing it, because the next backward usually overwrites it
 * whole; a copy into it then replaces a fill plus an add (two launches and four passes over the
 * buffer on a GPU become one launch and two passes). Every read of the buffer goes through
 * {@link #storage()}, which writes the zeros first, so no reader, view included, can see
 * anything else. No lock is held while the backend writes (the backend has its own).
 *
 * <p>It counts the in-place writes to the buffer ({@link #version}), as PyTorch's version counter
 * does: an operation that saves a tensor for its backward records the version it saw
 * ({@link Node}), and backward refuses to use the tensor if a write (assign, an optimizer step,
 * Checkpoint.loadInto, a gradient accumulated into it, under noGrad or not) changed it since,
 * rather than computing a gradient from values the forward pass never used. Every view of the
 * buffer shares the count.
 */
final class StorageRef {
    private final Storage storage;
    private final AtomicInteger users = new AtomicInteger(1);
    /** The backend that owes this buffer a fill with zeros; null when none is pending. */
    private final AtomicReference<Backend> zeroPending = new AtomicReference<>();
    /**
     * In-place writes so far. A plain int: written only by in-place updates, which are already not
     * safe to race with readers of the same tensor, and read once per saved tensor in backward.
     */
    private int version;

    StorageRef(Storage storage) {
        this.storage = storage;
    }

    /**
     * Buffers whose zeros are owed, so that {@link DeferredWrites#flush} can write them before a
     * backend starts recording work (weak: a buffer nobody can read any more owes nothing).
     */
    private static final Map<StorageRef, Boolean> OWING = Collections.synchronizedMap(new WeakHashMap<>());

    /**
     * The buffer, with any deferred zeros written first. They stop being owed only once the
     * fill has been issued: if it throws, readers still get zeros later. (Two threads reading at
     * once may both fill; the backend orders either fill before the reads issued after it.)
     */
    Storage storage() {
        Backend b = zeroPending.get();
        if (b != null) {
            b.fill(storage, 0.0);
            if (zeroPending.compareAndSet(b, null)) {
                OWING.remove(this);
            }
        }
        return storage;
    }

    /** How many in-place writes the buffer has had (see the class comment). */
    int version() {
        return version;
    }

    /** Counts one in-place write; every path that changes existing values calls it. */
    void bumpVersion() {
        version++;
        InPlaceWrites.written(this);
    }

    /** Counts a write repeated by a replay ({@link InPlaceWrites.Recording#repeat()}), not recorded again. */
    void bumpVersionUnrecorded() {
        version++;
    }

    /** Marks the buffer as all zeros; {@code backend} writes them when it is next read. */
    void zeroLater(Backend backend) {
        zeroPending.set(backend);
        OWING.put(this, Boolean.TRUE);
    }

    /** Writes the zeros owed on {@code backend} now (see {@link DeferredWrites#flush}). */
    static void writeOwedZeros(Backend backend) {
        List<StorageRef> owing;
        synchronized (OWING) {
            owing = new ArrayList<>(OWING.keySet());
        }
        for (StorageRef ref : owing) {
            if (ref.zeroPending.get() == backend && ref.users.get() > 0) {
                ref.storage();
            }
        }
    }

    /** Whether the buffer is all zeros not yet written (so whoever overwrites all of it may skip them). */
    boolean zerosPending() {
        return zeroPending.get() != null;
    }

    /**
     * The buffer as it is, pending zeros left pending: for a caller about to overwrite every
     * element, who calls {@link #overwritten} once that write has been issued (if the write
     * throws, the zeros stay owed and readers still see zeros).
     */
    Storage storageUnwritten() {
        return storage;
    }

    /** The deferred zeros are no longer owed: the whole buffer was overwritten. */
    void overwritten() {
        zeroPending.set(null);
        OWING.remove(this);
    }

    /** The buffer's length in elements (reads nothing, writes no owed zeros). */
    long length() {
        return storage.length();
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
            zeroPending.set(null); // nobody can read it any more: nothing is owed
            OWING.remove(this);
            storage.release();
        }
    }
}
