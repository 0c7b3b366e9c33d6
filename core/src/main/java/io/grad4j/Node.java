package io.grad4j;

/**
 * One recorded operation in the autograd graph: its inputs and the function that maps the
 * gradient of its output to gradients of its inputs (the VJP). The engine knows nothing else about
 * operations. After a backward pass the VJP (and with it every saved intermediate it captured) is
 * dropped unless the graph was retained.
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

    final String op;
    private Tensor[] inputs;
    private Vjp vjp;

    Node(String op, Tensor[] inputs, Vjp vjp) {
        this.op = op;
        this.inputs = inputs;
        this.vjp = vjp;
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

    void release() {
        vjp = null;
        inputs = null;
    }

    private IllegalStateException freed() {
        return new IllegalStateException("backward through '" + op + "' a second time: its graph was "
                + "freed by the first backward(); call backward(upstream, true) (retainGraph) the first "
                + "time if you need to go through it twice");
    }
}
