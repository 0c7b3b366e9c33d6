package io.grad4j.cpu;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits a long loop (an optimizer update over every parameter, the rows of a plain-Java matrix
 * product) between the calling thread and a few helper threads. Why not a {@code ForkJoinPool}:
 * a task there costs an allocation per fork and wakes workers through the pool's queues, and the
 * loops here are tens of microseconds long, so the hand-off has to be a single unpark.
 *
 * <p>The range is cut into chunks (for elementwise loops at multiples of 1,024 elements, so that
 * threads share a cache line only where an array's start falls inside one) that the caller and
 * the helpers take from one counter. A helper that wakes late finds fewer chunks or none, and the
 * caller does the rest: a loop is never held up by a helper that the operating system did not
 * schedule in time, and a helper that has not started by the time the caller is done is taken
 * back at once, free for the next loop. The caller returns only once every chunk is finished, so
 * the arrays are the caller's again when it returns.
 *
 * <p>Each element is computed by exactly one thread with the same arithmetic as the serial loop,
 * so the results are bit for bit those of one thread. A helper busy with another caller's loop is
 * not waited for: concurrent callers share the helpers they can claim and do the rest themselves,
 * and a body may itself run a loop (the helper running it stays claimed). An exception thrown by
 * any chunk is rethrown to the caller once every running chunk has ended, later ones attached to
 * it as suppressed.
 *
 * <p>{@code -Dgrad4j.cpu.threads=N} sets how many threads share a loop (default: the available
 * processors, at most 8; at most {@value #MAX_THREADS}); 1 runs every loop on the calling thread.
 */
final class ParallelLoops {
    /** A loop body over global indices [from, to). */
    @FunctionalInterface
    interface RangeBody {
        void run(long from, long to);
    }

    static final String THREADS_PROPERTY = "grad4j.cpu.threads";
    static final int MAX_THREADS = 256;

    /**
     * Fewer elements per thread than this run serially: an SGD update of 64K floats takes about 5 us
     * on one thread (OptimizerStepBenchmark, 2026-11-27: 43 us for the MLP's 535,818), which a
     * helper's wake-up would eat.
     */
    static final long MIN_ELEMENTS_PER_THREAD = 1 << 16;

    /** Elementwise chunk boundaries are multiples of this many elements (4 KiB of floats). */
    static final long CHUNK_ALIGN = 1024;

    /** How long a helper that finished a loop keeps polling for the next one before it parks. */
    private static final long HELPER_SPIN_NANOS = 20_000;

    private static volatile ParallelLoops shared;

    private final int threads;
    private final Helper[] helpers;
    private final Object startLock = new Object();
    private volatile boolean started;

    ParallelLoops(int threads) {
        if (threads < 1 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads must be 1 to " + MAX_THREADS + ", got " + threads);
        }
        this.threads = threads;
        this.helpers = new Helper[threads - 1];
    }

    /**
     * The loops the cpu backend shares, made on first use from {@value #THREADS_PROPERTY}; the cpu
     * backend asks for them when it is created, so a bad setting stops that with its reason.
     */
    static ParallelLoops shared() {
        ParallelLoops s = shared;
        if (s == null) {
            synchronized (ParallelLoops.class) {
                s = shared;
                if (s == null) {
                    s = new ParallelLoops(threadsFromProperty());
                    shared = s;
                }
            }
        }
        return s;
    }

    static int threadsFromProperty() {
        return parseThreads(System.getProperty(THREADS_PROPERTY), Math.min(8, Runtime.getRuntime().availableProcessors()));
    }

    /** The value of {@value #THREADS_PROPERTY}: a whole number from 1 to {@value #MAX_THREADS}, or the fallback when unset. */
    static int parseThreads(String value, int fallback) {
        if (value == null || value.isBlank()) {
            return fallback;
        }
        int n;
        try {
            n = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(THREADS_PROPERTY + " must be a whole number, got '" + value + "'", e);
        }
        if (n < 1 || n > MAX_THREADS) {
            throw new IllegalArgumentException(THREADS_PROPERTY + " must be 1 to " + MAX_THREADS + ", got " + n);
        }
        return n;
    }

    int threads() {
        return threads;
    }

    /** Runs an elementwise body over [0, n), split between threads when n is large enough to pay for it. */
    void forRange(long n, RangeBody body) {
        forRange(n, MIN_ELEMENTS_PER_THREAD, CHUNK_ALIGN, body);
    }

    /**
     * Runs body over [0, n): on the calling thread alone when there are fewer than 2 *
     * minPerThread indices, else in chunks whose starts are multiples of align (elements: 1,024;
     * rows of a matrix: 1).
     */
    void forRange(long n, long minPerThread, long align, RangeBody body) {
        forRange(n, minPerThread, align, 4, body);
    }

    /**
     * As {@link #forRange(long, long, long, RangeBody)}, cut into chunksPerThread chunks per thread:
     * four by default, so that a late thread leaves its share to the others; one where a chunk
     * repeats work (a matrix product packs its shared operand once per chunk).
     */
    void forRange(long n, long minPerThread, long align, int chunksPerThread, RangeBody body) {
        if (chunksPerThread < 1) {
            throw new IllegalArgumentException("forRange: chunks per thread must be at least 1, got " + chunksPerThread);
        }
        if (align < 1) {
            throw new IllegalArgumentException("forRange: alignment must be at least 1, got " + align);
        }
        if (n < 0) {
            throw new IllegalArgumentException("forRange: negative length " + n);
        }
        int parts = (int) Math.min(threads, n / Math.max(1, minPerThread));
        if (parts <= 1) {
            if (n > 0) {
                body.run(0, n);
            }
            return;
        }
        startHelpers();
        // everything is allocated before a helper is claimed, so that no failure can leave one claimed
        int chunks = parts * chunksPerThread;
        long chunk = Math.max(align, Math.ceilDiv(Math.ceilDiv(n, chunks), align) * align); // no stray tail chunk
        Loop loop = new Loop(body, n, chunk, Thread.currentThread());
        Helper[] claimed = new Helper[parts - 1];
        int count = 0;
        for (Helper h : helpers) {
            if (count == claimed.length) {
                break;
            }
            if (h.busy.compareAndSet(false, true)) {
                claimed[count++] = h;
                h.post(loop);
            }
        }
        loop.runChunks();
        for (int i = 0; i < count; i++) {
            claimed[i].takeBackIfNotStarted(loop);
        }
        loop.awaitAllChunks();
        loop.rethrowFailure();
    }

    private void startHelpers() {
        if (started) {
            return;
        }
        synchronized (startLock) {
            if (!started) {
                for (int i = 0; i < helpers.length; i++) {
                    helpers[i] = new Helper("grad4j-cpu-" + (i + 1));
                    helpers[i].start();
                }
                started = true;
            }
        }
    }

    /** One call's loop: the chunks, who is still running one, and the first failure. */
    private static final class Loop {
        final RangeBody body;
        final long n;
        final long chunk;
        final int chunkCount;
        final Thread caller;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger finished = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Loop(RangeBody body, long n, long chunk, Thread caller) {
            this.body = body;
            this.n = n;
            this.chunk = chunk;
            this.chunkCount = (int) ((n + chunk - 1) / chunk);
            this.caller = caller;
        }

        void runChunks() {
            int c;
            while ((c = next.getAndIncrement()) < chunkCount) {
                try {
                    if (failure.get() == null) {
                        long from = c * chunk;
                        body.run(from, Math.min(n, from + chunk));
                    }
                } catch (Throwable t) {
                    Throwable first = failure.compareAndExchange(null, t);
                    if (first != null && first != t) { // the same exception from two chunks is one failure
                        first.addSuppressed(t);
                    }
                } finally {
                    if (finished.incrementAndGet() == chunkCount && Thread.currentThread() != caller) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }

        /** Waits for the chunks helpers are still running; an interrupt is kept for the caller, not acted on. */
        void awaitAllChunks() {
            boolean interrupted = false;
            long spinUntil = System.nanoTime() + HELPER_SPIN_NANOS;
            while (finished.get() < chunkCount) {
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                    interrupted |= Thread.interrupted(); // else park would return at once from now on
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        void rethrowFailure() {
            Throwable t = failure.get();
            if (t == null) {
                return;
            }
            // the failure carries the stack of the thread that ran the chunk; this shows the caller's
            t.addSuppressed(new IllegalStateException("rethrown by " + caller.getName() + " after its parallel loop"));
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException("a parallel loop chunk failed", t);
        }
    }

    /** A daemon thread that runs chunks of whatever loop a caller posts to it. */
    private static final class Helper extends Thread {
        /** Claimed by a caller (compare-and-set) until the loop posted to this helper is done with. */
        final AtomicBoolean busy = new AtomicBoolean();
        private final AtomicReference<Loop> posted = new AtomicReference<>();

        Helper(String name) {
            super(name);
            setDaemon(true);
        }

        void post(Loop loop) {
            posted.set(loop);
            LockSupport.unpark(this);
        }

        /** The caller has run every chunk: if this helper has not picked the loop up yet, it never will. */
        void takeBackIfNotStarted(Loop loop) {
            if (posted.compareAndSet(loop, null)) {
                busy.set(false);
            }
        }

        @Override
        public void run() {
            long spinUntil = 0;
            while (true) {
                Loop loop = posted.getAndSet(null);
                if (loop == null) {
                    if (System.nanoTime() < spinUntil) {
                        Thread.onSpinWait();
                    } else {
                        Thread.interrupted(); // nobody interrupts a helper on purpose; a set flag would make park spin
                        LockSupport.park(this);
                    }
                    continue;
                }
                loop.runChunks();
                busy.set(false);
                spinUntil = System.nanoTime() + HELPER_SPIN_NANOS;
            }
        }
    }
}
