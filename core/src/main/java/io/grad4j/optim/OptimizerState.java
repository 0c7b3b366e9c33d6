package io.grad4j.optim;

import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.Backends;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** Checks and copies shared by the optimizers' {@code state()} and {@code loadState()}. */
final class OptimizerState {
    private OptimizerState() {
    }

    static String key(int index, String buffer) {
        return index + "." + buffer;
    }

    /** A fresh copy of t without history, marked persistent only by the caller. */
    static Tensor copy(Tensor t) {
        try (NoGrad ignored = Autograd.noGrad()) {
            return t.mul(1.0);
        }
    }

    static void checkLearningRate(String optimizer, double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException(optimizer + ": learning rate must be finite and >= 0, got " + lr);
        }
    }

    /**
     * Rejects names that are not {@code "<i>.<buffer>"} with i a parameter index and buffer one of
     * {@code buffers}, and indices that have some but not all of {@code buffers}. Returns, per
     * parameter, whether the state has its buffers.
     */
    static boolean[] checkNames(String optimizer, Map<String, Tensor> state, int params, Set<String> buffers) {
        if (state == null) {
            throw new IllegalArgumentException(optimizer + ".loadState: state is null");
        }
        Map<Integer, Integer> found = new TreeMap<>();
        for (String name : state.keySet()) {
            int dot = name.indexOf('.');
            int index = -1;
            if (dot > 0) {
                try {
                    index = Integer.parseInt(name.substring(0, dot));
                } catch (NumberFormatException e) {
                    index = -1;
                }
            }
            if (buffers.isEmpty()) {
                throw new IllegalArgumentException(optimizer + ".loadState: unexpected state '" + name
                        + "': this optimizer keeps no state (for example SGD without momentum)");
            }
            if (index < 0 || index >= params || !buffers.contains(name.substring(dot + 1))
                    || !name.equals(key(index, name.substring(dot + 1)))) {
                throw new IllegalArgumentException(optimizer + ".loadState: unknown state name '" + name
                        + "'; expected '<i>.<buffer>' with i in [0, " + params + ") and buffer one of " + buffers);
            }
            if (state.get(name) == null) {
                throw new IllegalArgumentException(optimizer + ".loadState: state '" + name + "' is null");
            }
            found.merge(index, 1, Integer::sum);
        }
        boolean[] present = new boolean[params];
        for (Map.Entry<Integer, Integer> e : found.entrySet()) {
            if (e.getValue() != buffers.size()) {
                throw new IllegalArgumentException(optimizer + ".loadState: parameter " + e.getKey()
                        + " has only some of its buffers " + buffers + "; give all of them or none");
            }
            present[e.getKey()] = true;
        }
        return present;
    }

    /** Throws unless state[name] has its parameter's shape and dtype. */
    static void checkBuffer(String optimizer, Map<String, Tensor> state, String name, Tensor param) {
        Tensor t = state.get(name);
        if (t.isClosed()) {
            throw new IllegalArgumentException(optimizer + ".loadState: '" + name + "' is closed");
        }
        if (!Arrays.equals(t.shape(), param.shape())) {
            throw new IllegalArgumentException(optimizer + ".loadState: '" + name + "' has shape "
                    + Arrays.toString(t.shape()) + " but its parameter has shape " + Arrays.toString(param.shape()));
        }
        if (t.dtype() != param.dtype()) {
            throw new IllegalArgumentException(optimizer + ".loadState: '" + name + "' is " + t.dtype()
                    + " but its parameter is " + param.dtype() + "; convert it with to(" + param.dtype() + ") first");
        }
    }

    /** A persistent copy of t on param's backend (t checked by {@link #checkBuffer}). */
    static Tensor loadBuffer(Tensor t, Tensor param) {
        try (NoGrad ignored = Autograd.noGrad()) {
            Tensor onBackend = t.to(param.backend());
            return (onBackend == t ? copy(t) : onBackend).persistent();
        }
    }

    /** The step count held in state[name]: a one-element tensor with a whole value >= 1. */
    static long readStep(String optimizer, Map<String, Tensor> state, String name) {
        Tensor t = state.get(name);
        if (t.isClosed()) {
            throw new IllegalArgumentException(optimizer + ".loadState: '" + name + "' is closed");
        }
        double v = t.numel() == 1 ? t.item() : Double.NaN;
        if (t.numel() != 1 || !(v >= 1) || v != Math.rint(v) || v > Long.MAX_VALUE) {
            throw new IllegalArgumentException(optimizer + ".loadState: '" + name + "' must be a scalar holding a whole "
                    + "step count >= 1, got " + (t.numel() == 1 ? String.valueOf(v) : "shape " + Arrays.toString(t.shape())));
        }
        return (long) v;
    }

    /** A FLOAT64 scalar with the step count, on the parameter's backend. */
    static Tensor stepTensor(long step, Tensor param) {
        try (Backends.Scope ignored = Backends.use(param.backend())) {
            return Tensor.scalar(step);
        }
    }

    static void closeAll(Tensor[] buffers) {
        for (int i = 0; i < buffers.length; i++) {
            if (buffers[i] != null) {
                buffers[i].close();
                buffers[i] = null;
            }
        }
    }

    /**
     * The parameter list every optimizer takes: not null or empty (an optimizer of nothing is a
     * mistake, as in PyTorch), no null entries, each a tensor that requires grad, and none listed
     * twice (it would be stepped twice per step(); PyTorch refuses it too).
     */
    static void checkParams(String optimizer, List<Tensor> params) {
        if (params == null) {
            throw new IllegalArgumentException(optimizer + ": the parameter list is null");
        }
        if (params.isEmpty()) {
            throw new IllegalArgumentException(optimizer + ": the parameter list is empty; pass the tensors to optimize "
                    + "(for example model.parameters())");
        }
        Map<Tensor, Integer> firstIndex = new java.util.IdentityHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            if (p == null) {
                throw new IllegalArgumentException(optimizer + ": parameter " + i + " of " + params.size() + " is null");
            }
            if (!p.requiresGrad()) {
                throw new IllegalArgumentException(optimizer + ": parameter " + i + " does not require grad: " + p);
            }
            Integer earlier = firstIndex.putIfAbsent(p, i);
            if (earlier != null) {
                throw new IllegalArgumentException(optimizer + ": parameter " + i + " is the same tensor as parameter "
                        + earlier + " (" + p + "); list each parameter once, or it is stepped twice per step()");
            }
        }
    }
}
