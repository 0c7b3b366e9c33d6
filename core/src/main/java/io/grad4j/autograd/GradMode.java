package io.grad4j.autograd;

/**
 * Per-thread autograd switches: whether operations record history ({@link Autograd#noGrad()}
 * turns it off) and whether backward checks every gradient for NaN/Inf (anomaly mode).
 */
public final class GradMode {
    private static final ThreadLocal<int[]> STATE = ThreadLocal.withInitial(() -> new int[2]);
    private static final int NO_GRAD_DEPTH = 0;
    private static final int ANOMALY_DEPTH = 1;

    private GradMode() {
    }

    /** True unless the thread is inside a {@link Autograd#noGrad()} scope. */
    public static boolean isEnabled() {
        return STATE.get()[NO_GRAD_DEPTH] == 0;
    }

    /** True inside an {@link Autograd#detectAnomaly()} scope. */
    public static boolean isAnomalyDetectionEnabled() {
        return STATE.get()[ANOMALY_DEPTH] > 0;
    }

    static NoGrad enterNoGrad() {
        int[] s = STATE.get();
        s[NO_GRAD_DEPTH]++;
        return new Scope(() -> s[NO_GRAD_DEPTH]--);
    }

    /** History is recorded inside, even within a no-grad scope; the outer state returns on close. */
    static NoGrad enterEnableGrad() {
        int[] s = STATE.get();
        int saved = s[NO_GRAD_DEPTH];
        s[NO_GRAD_DEPTH] = 0;
        return new Scope(() -> s[NO_GRAD_DEPTH] = saved);
    }

    static NoGrad enterAnomaly() {
        int[] s = STATE.get();
        s[ANOMALY_DEPTH]++;
        return new Scope(() -> s[ANOMALY_DEPTH]--);
    }

    /** Closes once, on the thread that opened it, undoing what opening it did. */
    private static final class Scope implements NoGrad {
        private final Runnable undo;
        private final Thread owner = Thread.currentThread();
        private boolean closed;

        Scope(Runnable undo) {
            this.undo = undo;
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            if (Thread.currentThread() != owner) {
                throw new IllegalStateException("an autograd scope must be closed on the thread that opened it ("
                        + owner.getName() + "), not on " + Thread.currentThread().getName());
            }
            closed = true;
            undo.run();
        }
    }
}
