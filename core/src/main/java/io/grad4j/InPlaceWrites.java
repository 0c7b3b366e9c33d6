package io.grad4j;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Records which buffers a piece of work writes in place, so that work done again without core
 * seeing it (a CUDA graph's replay repeats recorded kernels) can count those writes again. Without
 * it a replay would change parameters behind their version counters, and a backward over a graph
 * built before the replay would silently use the new values (see {@link StorageRef}'s counter).
 * Recording is per thread; a backend records while it captures, on the capturing thread.
 */
public final class InPlaceWrites {
    private static final ThreadLocal<Recording> ACTIVE = new ThreadLocal<>();
    /** Fast path: no thread records (nearly always), so a write need not look at the ThreadLocal. */
    private static volatile int recordingThreads;

    private InPlaceWrites() {
    }

    /** Starts recording this thread's in-place writes; stop it with {@link Recording#stop()}. Does not nest. */
    public static Recording record() {
        if (ACTIVE.get() != null) {
            throw new IllegalStateException("InPlaceWrites: this thread is already recording");
        }
        Recording r = new Recording(Thread.currentThread());
        ACTIVE.set(r);
        synchronized (InPlaceWrites.class) {
            recordingThreads++;
        }
        return r;
    }

    /** Called by {@link StorageRef#bumpVersion()}: notes the buffer when this thread records. */
    static void written(StorageRef ref) {
        if (recordingThreads == 0) {
            return;
        }
        Recording r = ACTIVE.get();
        if (r != null && r.open) {
            r.written.add(ref);
        }
    }

    /** The buffers one recording saw written; {@link #repeat()} counts each of them once more. */
    public static final class Recording {
        private final Thread owner;
        private final Set<StorageRef> written = Collections.newSetFromMap(new IdentityHashMap<>());
        private List<StorageRef> frozen = List.of();
        private boolean open = true;

        private Recording(Thread owner) {
            this.owner = owner;
        }

        /** Ends the recording (on the thread that started it). Idempotent. */
        public void stop() {
            if (!open) {
                return;
            }
            if (Thread.currentThread() != owner) {
                throw new IllegalStateException("InPlaceWrites: a recording must stop on the thread that started it ("
                        + owner.getName() + ")");
            }
            open = false;
            frozen = new ArrayList<>(written);
            written.clear();
            ACTIVE.remove();
            synchronized (InPlaceWrites.class) {
                recordingThreads--;
            }
        }

        /** How many distinct buffers were written while recording. */
        public int buffers() {
            return open ? written.size() : frozen.size();
        }

        /** Counts one more in-place write to every recorded buffer: the work ran again. */
        public void repeat() {
            if (open) {
                throw new IllegalStateException("InPlaceWrites: repeat() before stop()");
            }
            for (StorageRef ref : frozen) {
                ref.bumpVersionUnrecorded();
            }
        }
    }
}
