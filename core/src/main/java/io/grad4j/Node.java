package io.grad4j;

/**
 * One recorded operation in the autograd graph: its inputs and the function that maps the
 * gradient of its output to gradients of its inputs (the VJP). The engine knows nothing else about
 * operations. After a backward pass the VJP (and with it every saved intermediate it captured) is
 * dropped unless the graph was retained.
 *
 * <p>The tensors whose values the VJP reads (an operation's "saved" tensors: both factors of a
 * product, the output of exp) are listed with the version of their storage when the operation ran
 * ({@link StorageRef#version}); {@link #checkSavedVersions} refuses a backward after an in-place
 * write changed one of them, as PyTorch does. Tensors whose values the VJP does not read (the
 * operands of an add) are not listed, so writing into them before backward is allowed.
 */
final class Node {
    /** Maps the upstream gradient (shape of the output) to one gradient per input (null = none). */
    @FunctionalInterface
    interface Vjp {
        Tensor[] apply(Tensor upstream);
    }

    /** Maps input tangents (zeros where an input has none) to the output tangent. */
    @FunctionalInterface
    interface Jvp {
        Tensor apply(Tensor[] tangents);
    }

    private static final Tensor[] NOTHING_SAVED = new Tensor[0];
    private static final int[] NO_VERSIONS = new int[0];

    final String op;
    /**
     * Whether the VJP takes the upstream gradient in any layout (views, which only move it):
     * the engine hands every other VJP a dense gradient.
     */
    final boolean takesViews;
    private Tensor[] inputs;
    private Vjp vjp;
    /**
     * The VJP written in differentiable tensor operations, for backward passes that build a graph
     * of their own ({@code Autograd.grad(..., createGraph)}, Hessian-vector products); null where
     * the operation has none. {@link #vjp} computes the same gradient with fused kernels.
     */
    private Vjp rule;
    private Tensor[] saved;
    private int[] savedVersions;

    Node(String op, Tensor[] inputs, Vjp vjp) {
        this(op, inputs, NOTHING_SAVED, vjp, false);
    }

    /** {@code saved}: the tensors the VJP reads (null entries are skipped), their versions taken now. */
    Node(String op, Tensor[] inputs, Tensor[] saved, Vjp vjp, boolean takesViews) {
        this.op = op;
        this.takesViews = takesViews;
        this.inputs = inputs;
        this.vjp = vjp;
        int count = 0;
        for (Tensor t : saved) {
            count += t != null ? 1 : 0;
        }
        if (count == 0) {
            this.saved = NOTHING_SAVED;
            this.savedVersions = NO_VERSIONS;
            return;
        }
        this.saved = new Tensor[count];
        this.savedVersions = new int[count];
        int i = 0;
        for (Tensor t : saved) {
            if (t != null) {
                this.saved[i] = t;
                this.savedVersions[i++] = t.versionInternal();
            }
        }
    }

    /**
     * Throws if an in-place write changed a saved tensor after this operation ran: its gradient
     * would silently be computed from the new values (PyTorch's "modified by an inplace operation").
     */
    void checkSavedVersions() {
        Tensor[] s = saved;
        if (s == null) {
            return; // released: vjpOrFail reports it
        }
        for (int i = 0; i < s.length; i++) {
            int now = s[i].versionInternal();
            if (now != savedVersions[i]) {
                throw modifiedInPlace(s[i], now, savedVersions[i]);
            }
        }
    }

    private IllegalStateException modifiedInPlace(Tensor t, int now, int expected) {
        String which = "its output";
        for (int j = 0; inputs != null && j < inputs.length; j++) {
            if (inputs[j] == t) {
                which = "its input " + j;
                break;
            }
        }
        return new IllegalStateException("one of the tensors needed for gradient computation has been modified by an "
                + "in-place operation: the " + t.dtypeInternal() + " tensor of shape "
                + java.util.Arrays.toString(t.shapeInternal()) + " that '" + op + "' saved (" + which + ") is at version "
                + now + "; expected version " + expected + ". Something wrote into it (assign, updateInPlace, an "
                + "optimizer step, Checkpoint.loadInto, also inside noGrad) after '" + op + "' ran and before this "
                + "backward; call backward before changing it, or give '" + op + "' a copy (t.mul(1.0))");
    }

    /** Inputs for the topological walk; empty once released. */
    Tensor[] inputs() {
        return inputs == null ? new Tensor[0] : inputs;
    }

    Tensor[] inputsOrFail() {
        if (inputs == null) {
            throw freed();
        }
        return inputs;
    }

    Vjp vjpOrFail() {
        if (vjp == null) {
            throw freed();
        }
        return vjp;
    }

    boolean released() {
        return vjp == null;
    }

    void setRule(Vjp rule) {
        this.rule = rule;
    }

    /** The differentiable VJP, or an exception naming the operation that has none. */
    Vjp ruleOrFail() {
        if (vjp == null) {
            throw freed();
        }
        if (rule == null) {
            throw new UnsupportedOperationException("'" + op + "' has no differentiable gradient rule, so a gradient"
                    + " with createGraph (or a Hessian-vector product) cannot pass through it");
        }
        return rule;
    }

    void release() {
        vjp = null;
        rule = null;
        inputs = null;
        saved = null;
    }

    private IllegalStateException freed() {
        return new IllegalStateException("backward through '" + op + "' a second time: its graph was "
                + "freed by the first backward(); call backward(upstream, true) (retainGraph) the first "
                + "time if you need to go through it twice");
    }
}
