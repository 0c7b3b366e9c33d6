package io.grad4j;

import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.GradMode;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.BinaryOp;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The reverse-mode engine, op-agnostic as in micrograd: sort the graph topologically, seed the
 * output, walk it backwards calling each node's VJP, and sum what arrives at a tensor used more
 * than once. Not API: {@link io.grad4j.autograd.Autograd} and {@link Tensor#backward()} call it.
 */
public final class Engine {
    private Engine() {
    }

    /** Accumulates d root / d leaf into every reachable leaf that requires grad. */
    static void backward(Tensor root, Tensor seed, boolean retainGraph) {
        run(root, seed, retainGraph, null, false);
    }

    /**
     * d root / d input for each input (leaves or intermediates), seeded with {@code seed};
     * leaves' {@code grad()} is left untouched. An input the root does not depend on gets null.
     */
    public static Tensor[] gradients(Tensor root, Tensor seed, boolean retainGraph, Tensor... inputs) {
        return gradients(root, seed, retainGraph, false, inputs);
    }

    /**
     * {@link #gradients(Tensor, Tensor, boolean, Tensor...)}; with {@code createGraph} the pass
     * runs each operation's differentiable rule with history recorded, so the gradients returned
     * can be differentiated again (the graph is then kept).
     */
    public static Tensor[] gradients(Tensor root, Tensor seed, boolean retainGraph, boolean createGraph, Tensor... inputs) {
        Map<Tensor, Tensor> captured = new IdentityHashMap<>();
        for (Tensor in : inputs) {
            in.checkOpen();
            captured.put(in, null);
        }
        if (root.requiresGradInternal()) {
            run(root, seed, retainGraph || createGraph, captured, createGraph);
        }
        Tensor[] out = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            out[i] = captured.get(inputs[i]);
        }
        return out;
    }

    /**
     * Records a user-defined operation (see {@link io.grad4j.autograd.CustomFunction}): out gets a
     * node whose VJP is {@code vjp}. It has no JVP rule, so forward mode through it fails clearly.
     */
    public static Tensor recordCustom(String op, Tensor out, Tensor[] inputs,
                                      java.util.function.Function<Tensor, Tensor[]> vjp) {
        Tensor fresh = out.detach();
        // the user's backward is handed the inputs and the output: all of them count as saved
        Tensor[] saved = java.util.Arrays.copyOf(inputs, inputs.length + 1);
        saved[inputs.length] = fresh;
        return Graph.record(op, fresh, inputs, saved, vjp::apply, null).withRule(vjp::apply);
    }

    /** Runs {@code f} on a copy of x carrying tangent v and returns f(x) with its tangent. */
    public static Tensor[] pushForward(java.util.function.Function<Tensor, Tensor> f, Tensor x, Tensor v) {
        Tensor.checkCompatible("jvp", x, v);
        if (!Arrays.equals(x.shapeInternal(), v.shapeInternal())) {
            throw new IllegalArgumentException("jvp: tangent has shape " + Arrays.toString(v.shapeInternal())
                    + " but x has shape " + Arrays.toString(x.shapeInternal()));
        }
        Tensor primal = x.detach();
        primal.tangent = v;
        Graph.enterForwardMode();
        try {
            Tensor y = f.apply(primal);
            Tensor t = y.tangent != null ? y.tangent
                    : Tensor.zeros(y.backendInternal(), y.dtypeInternal(), y.shapeInternal());
            return new Tensor[] {y, t};
        } finally {
            Graph.exitForwardMode();
            primal.tangent = null;
        }
    }

    private static void run(Tensor root, Tensor seed, boolean retainGraph, Map<Tensor, Tensor> captured,
                            boolean createGraph) {
        List<Tensor> order = topologicalOrder(root);
        Map<Tensor, Tensor> pending = new IdentityHashMap<>();
        pending.put(root, seed);
        boolean anomaly = GradMode.isAnomalyDetectionEnabled();
        // {leaf gradient with zeros owed, its new gradient}: copied together once the pass is done
        List<Tensor[]> overwrites = new ArrayList<>();
        Throwable failure = null;
        try (NoGrad ignored = createGraph ? null : Autograd.noGrad()) {
            for (int i = order.size() - 1; i >= 0; i--) {
                Tensor t = order.get(i);
                Tensor g = pending.remove(t);
                if (g == null) {
                    continue;
                }
                Node node = t.gradFn();
                if (!createGraph && (node == null || !node.takesViews)) {
                    g = g.denseRaw(); // leaves and computing VJPs take row-major gradients; views pass views back
                }
                g = runHooks(t, g);
                if (captured != null && captured.containsKey(t)) {
                    captured.merge(t, g, Engine::sum);
                }
                if (node == null) {
                    if (captured == null) {
                        accumulateIntoLeaf(t, g, overwrites);
                    }
                    continue;
                }
                Tensor[] inputs = node.inputsOrFail();
                node.checkSavedVersions();
                Tensor[] grads = createGraph ? node.ruleOrFail().apply(g) : node.vjpOrFail().apply(g);
                for (int j = 0; j < inputs.length; j++) {
                    Tensor in = inputs[j];
                    Tensor gin = grads[j];
                    if (gin == null || !in.requiresGradInternal()) {
                        continue;
                    }
                    if (!Arrays.equals(gin.shapeInternal(), in.shapeInternal())) {
                        throw new IllegalStateException("backward of '" + node.op + "' returned a gradient of shape "
                                + Arrays.toString(gin.shapeInternal()) + " for input " + j + " of shape "
                                + Arrays.toString(in.shapeInternal()));
                    }
                    if (anomaly) {
                        checkFinite(node.op, j, gin);
                    }
                    pending.merge(in, gin, Engine::sum);
                }
            }
        } catch (RuntimeException | Error e) {
            failure = e;
            throw e;
        } finally {
            try {
                // also after a failure: the leaves reached before it keep their gradients, as before
                ForeachUpdates.overwrite(overwrites);
            } catch (RuntimeException e) {
                if (failure == null) {
                    throw e;
                }
                failure.addSuppressed(e);
            } finally {
                if (!retainGraph) {
                    for (Tensor t : order) {
                        if (t.gradFn() != null) {
                            t.gradFn().release();
                        }
                    }
                }
            }
        }
    }

    /** Tensors that require grad and lead to root, inputs before the tensors computed from them. */
    private static List<Tensor> topologicalOrder(Tensor root) {
        List<Tensor> order = new ArrayList<>();
        Map<Tensor, Boolean> visited = new IdentityHashMap<>();
        // iterative post-order DFS: deep graphs (long RNN chains) must not overflow the stack
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[] {root, 0});
        visited.put(root, Boolean.TRUE);
        while (!stack.isEmpty()) {
            Object[] frame = stack.peek();
            Tensor t = (Tensor) frame[0];
            int next = (Integer) frame[1];
            Tensor[] inputs = t.gradFn() == null ? new Tensor[0] : t.gradFn().inputs();
            if (next < inputs.length) {
                frame[1] = next + 1;
                Tensor in = inputs[next];
                if (in.requiresGradInternal() && visited.put(in, Boolean.TRUE) == null) {
                    stack.push(new Object[] {in, 0});
                }
            } else {
                stack.pop();
                order.add(t);
            }
        }
        return order;
    }

    private static Tensor runHooks(Tensor t, Tensor g) {
        List<UnaryOperator<Tensor>> hooks = t.hooks();
        if (hooks == null) {
            return g;
        }
        for (UnaryOperator<Tensor> hook : List.copyOf(hooks)) {
            Tensor replaced = hook.apply(g);
            if (replaced != null) {
                if (!Arrays.equals(replaced.shapeInternal(), t.shapeInternal())) {
                    throw new IllegalStateException("a gradient hook returned shape " + Arrays.toString(replaced.shapeInternal())
                            + " for a tensor of shape " + Arrays.toString(t.shapeInternal()));
                }
                if (replaced.dtypeInternal() != t.dtypeInternal() || replaced.backendInternal() != t.backendInternal()) {
                    throw new IllegalStateException("a gradient hook returned a " + replaced.dtypeInternal() + " gradient on "
                            + replaced.backendInternal().name() + " for a " + t.dtypeInternal() + " tensor on "
                            + t.backendInternal().name() + "; return it in the tensor's dtype and backend");
                }
                g = replaced.denseRaw();
            }
        }
        return g;
    }

    /** PyTorch's rule: leaves accumulate across backward calls; the first gradient is copied, later ones added in place. */
    private static void accumulateIntoLeaf(Tensor leaf, Tensor g, List<Tensor[]> overwrites) {
        if (!leaf.requiresGradInternal()) {
            return;
        }
        Tensor existing = leaf.gradInternal();
        if (existing == null || existing.isClosed()) {
            Tensor copy = Tensor.empty(leaf.backendInternal(), leaf.dtypeInternal(), leaf.shapeInternal());
            leaf.backendInternal().copy(g.storage(), copy.storage());
            leaf.setGrad(copy);
        } else if (existing.zerosPending() && leaf.backendInternal().canDeferWrites()) {
            // zeroGrad deferred its fill: zeros + g is g, so copy over the buffer (one pass, no
            // fill), together with the other leaves' copies when the pass ends (one launch)
            overwrites.add(new Tensor[] {existing, g});
        } else {
            long[] s = BroadcastShape.contiguousStrides(existing.shapeInternal());
            leaf.backendInternal().binary(BinaryOp.ADD, existing.storage(), s, g.storage(), s,
                    existing.storage(), existing.shapeInternal());
            existing.markModified();
        }
    }

    private static Tensor sum(Tensor a, Tensor b) {
        return ArithmeticOps.apply(BinaryOp.ADD, a, b);
    }

    private static void checkFinite(String op, int input, Tensor g) {
        double[] values = g.toDoubleArray();
        for (int i = 0; i < values.length; i++) {
            if (!Double.isFinite(values[i])) {
                throw new ArithmeticException("anomaly detected: backward of '" + op + "' produced "
                        + values[i] + " in the gradient of its input " + input + " (shape "
                        + Arrays.toString(g.shapeInternal()) + ", element " + i + ")");
            }
        }
    }
}
