package io.grad4j;

import java.util.ArrayList;
import java.util.List;

/**
 * Closes, on exit, every tensor created inside it on this thread, except those passed to
 * {@link #keep} (which move to the enclosing scope, or become unscoped). A training step makes
 * hundreds of intermediates; on a GPU their memory must come back every step, not whenever the
 * garbage collector runs:
 * <pre>
 *   try (TensorScope step = TensorScope.open()) {
 *       Tensor loss = Losses.crossEntropy(model.forward(x), y);
 *       loss.backward();
 *       optimizer.step();
 *       lossValue = loss.item();
 *   } // activations, gradients of intermediates, the graph: all freed here
 * </pre>
 * Parameters live outside the scope; their gradients and optimizer state are kept automatically.
 * Scopes nest and belong to the thread that opened them.
 */
public final class TensorScope implements AutoCloseable {
    private static final ThreadLocal<TensorScope> CURRENT = new ThreadLocal<>();

    private final TensorScope parent;
    private final Thread owner = Thread.currentThread();
    private List<Tensor> tracked = new ArrayList<>();

    private TensorScope(TensorScope parent) {
        this.parent = parent;
    }

    public static TensorScope open() {
        TensorScope s = new TensorScope(CURRENT.get());
        CURRENT.set(s);
        return s;
    }

    /** Keeps t alive past this scope (it joins the enclosing one, if any). Returns t. */
    public static Tensor keep(Tensor t) {
        TensorScope s = CURRENT.get();
        if (s != null && s.tracked.remove(t) && s.parent != null) {
            s.parent.tracked.add(t);
        }
        return t;
    }

    /** Removes t from every open scope of this thread: for state that outlives steps (gradients, optimizer buffers). */
    static void untrack(Tensor t) {
        for (TensorScope s = CURRENT.get(); s != null; s = s.parent) {
            s.tracked.remove(t);
        }
    }

    static void track(Tensor t) {
        TensorScope s = CURRENT.get();
        if (s != null) {
            s.tracked.add(t);
        }
    }

    /** Number of tensors this scope would close now. */
    public int size() {
        return tracked.size();
    }

    @Override
    public void close() {
        if (tracked == null) {
            return;
        }
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a TensorScope must be closed on the thread that opened it (" + owner.getName() + ")");
        }
        if (CURRENT.get() != this) {
            throw new IllegalStateException("TensorScopes must be closed innermost first");
        }
        CURRENT.set(parent);
        List<Tensor> toClose = tracked;
        tracked = null;
        for (Tensor t : toClose) {
            t.close();
        }
    }
}
