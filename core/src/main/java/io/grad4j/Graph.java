package io.grad4j;

import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.GradMode;
import io.grad4j.autograd.NoGrad;

/**
 * Records operations as they run (define-by-run). Every differentiable operation ends with
 * {@link #record}, handing over its output, its inputs, its VJP and its JVP; this class decides
 * whether history is kept (reverse mode) and whether a tangent is pushed forward (forward mode).
 */
final class Graph {
    /** Depth of {@link Autograd#jvp} calls on this thread; tangents are only looked at when > 0. */
    private static final ThreadLocal<int[]> FORWARD_DEPTH = ThreadLocal.withInitial(() -> new int[1]);

    private Graph() {
    }

    private static final Tensor[] NOTHING_SAVED = new Tensor[0];

    /** An operation whose VJP reads no tensor's values (a sum, a reshape: only shapes). */
    static Tensor record(String op, Tensor out, Tensor input, Node.Vjp vjp, Node.Jvp jvp) {
        return record(op, out, new Tensor[] {input}, NOTHING_SAVED, vjp, jvp);
    }

    static Tensor record(String op, Tensor out, Tensor a, Tensor b, Node.Vjp vjp, Node.Jvp jvp) {
        return record(op, out, new Tensor[] {a, b}, NOTHING_SAVED, vjp, jvp);
    }

    static Tensor record(String op, Tensor out, Tensor[] inputs, Node.Vjp vjp, Node.Jvp jvp) {
        return record(op, out, inputs, NOTHING_SAVED, vjp, jvp);
    }

    /**
     * Records an operation whose VJP reads the values of {@code saved} (inputs or the output; null
     * entries are skipped): their versions are taken now, and backward refuses to run the VJP if
     * an in-place write changed one of them in between ({@link Node#checkSavedVersions}).
     */
    static Tensor record(String op, Tensor out, Tensor[] inputs, Tensor[] saved, Node.Vjp vjp, Node.Jvp jvp) {
        return record(op, out, inputs, saved, vjp, jvp, false);
    }

    /**
     * Records a view (an operation that only moves values): its VJP takes the upstream gradient in
     * whatever layout it comes, so a chain of views passes gradients back as views, copying nothing.
     */
    static Tensor recordView(String op, Tensor out, Tensor input, Node.Vjp vjp, Node.Jvp jvp) {
        return record(op, out, new Tensor[] {input}, NOTHING_SAVED, vjp, jvp, true);
    }

    private static Tensor record(String op, Tensor out, Tensor[] inputs, Tensor[] saved, Node.Vjp vjp, Node.Jvp jvp,
                                 boolean takesViews) {
        if (FORWARD_DEPTH.get()[0] > 0) {
            pushTangent(op, out, inputs, jvp);
        }
        if (GradMode.isEnabled()) {
            for (Tensor in : inputs) {
                if (in.requiresGradInternal()) {
                    out.attachHistory(new Node(op, inputs, saved, vjp, takesViews));
                    break;
                }
            }
        }
        return out;
    }

    private static void pushTangent(String op, Tensor out, Tensor[] inputs, Node.Jvp jvp) {
        boolean any = false;
        for (Tensor in : inputs) {
            any |= in.tangent != null;
        }
        if (!any) {
            return;
        }
        if (jvp == null) {
            throw new UnsupportedOperationException("operation '" + op + "' has no forward-mode (JVP) rule; "
                    + "use Autograd.vjp or Autograd.jacobian in reverse mode for it");
        }
        Tensor[] tangents = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            tangents[i] = inputs[i].tangent != null ? inputs[i].tangent.denseRaw() // a view's JVP gives a view
                    : Tensor.zeros(inputs[i].backend(), inputs[i].dtype(), inputs[i].shapeInternal());
        }
        // the rule itself must neither record history nor push tangents of its own
        int[] depth = FORWARD_DEPTH.get();
        int saved = depth[0];
        depth[0] = 0;
        try (NoGrad ignored = Autograd.noGrad()) {
            out.tangent = jvp.apply(tangents);
        } finally {
            depth[0] = saved;
        }
    }

    static void enterForwardMode() {
        FORWARD_DEPTH.get()[0]++;
    }

    static void exitForwardMode() {
        FORWARD_DEPTH.get()[0]--;
    }
}
