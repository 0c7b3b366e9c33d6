package io.grad4j.nn;

import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A differentiable function with parameters, organised as PyTorch's {@code nn.Module}: a module has
 * its own parameters and buffers under local names ({@code weight}, {@code running_mean}) and
 * named children ({@code 0}, {@code attn}); {@link #namedParameters()} and {@link #stateDict()}
 * join the names with dots, so a grad4j model and the PyTorch model of the same architecture name
 * their tensors alike. Checkpoints save and load any module through its state dict.
 */
public interface Module {
    Tensor forward(Tensor x);

    /** The trainable tensors, in a stable order (optimizers and checkpoints rely on it). */
    List<Tensor> parameters();

    /**
     * This module's own parameters by local name, children's excluded. The default, for modules
     * without children that name nothing, numbers {@link #parameters()} "0", "1", ...
     */
    default Map<String, Tensor> localParameters() {
        if (!children().isEmpty()) {
            return Map.of();
        }
        Map<String, Tensor> named = new LinkedHashMap<>();
        List<Tensor> own = parameters();
        for (int i = 0; i < own.size(); i++) {
            named.put(String.valueOf(i), own.get(i));
        }
        return named;
    }

    /** This module's own buffers (state that is saved but not trained, e.g. BatchNorm's running statistics). */
    default Map<String, Tensor> localBuffers() {
        return Map.of();
    }

    /** The modules this one is made of, by name, in order. */
    default Map<String, Module> children() {
        return Map.of();
    }

    /** Every parameter under its dotted name, as PyTorch's named_parameters: a tensor reached twice (tied weights) once, under its first name. */
    default Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Modules.collect(this, "", false, out, seen);
        return Collections.unmodifiableMap(out);
    }

    /** Parameters and buffers under their dotted names, as PyTorch's state_dict: tied tensors under every name. */
    default Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        Modules.collect(this, "", true, out, null);
        return Collections.unmodifiableMap(out);
    }

    /**
     * Copies {@code state} into this module's parameters and buffers (moved to their backend).
     * Checks everything first: a missing, unexpected or mis-shaped entry (or another dtype) is an
     * IllegalArgumentException naming every such entry, and nothing is loaded.
     */
    default void loadStateDict(Map<String, Tensor> state) {
        if (state == null) {
            throw new IllegalArgumentException("loadStateDict: the state dict is null");
        }
        Map<String, Tensor> target = stateDict();
        List<String> problems = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String name : target.keySet()) {
            if (!state.containsKey(name)) {
                missing.add(name);
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String name : state.keySet()) {
            if (!target.containsKey(name)) {
                unexpected.add(name);
            }
        }
        if (!missing.isEmpty()) {
            problems.add("missing: " + missing);
        }
        if (!unexpected.isEmpty()) {
            problems.add("unexpected: " + unexpected);
        }
        for (Map.Entry<String, Tensor> e : target.entrySet()) {
            Tensor src = state.get(e.getKey());
            Tensor dst = e.getValue();
            if (src != null && (!Arrays.equals(src.shape(), dst.shape()) || src.dtype() != dst.dtype())) {
                problems.add("'" + e.getKey() + "' is " + src.dtype() + " " + Arrays.toString(src.shape())
                        + " but the module's is " + dst.dtype() + " " + Arrays.toString(dst.shape()));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("loadStateDict: the state dict does not fit the module, nothing was loaded: "
                    + String.join("; ", problems));
        }
        try (NoGrad ignored = Autograd.noGrad()) {
            for (Map.Entry<String, Tensor> e : target.entrySet()) {
                Tensor src = state.get(e.getKey());
                Tensor dst = e.getValue();
                if (src.backend() != dst.backend()) {
                    try (Tensor moved = src.to(dst.backend())) {
                        dst.assign(moved);
                    }
                } else {
                    dst.assign(src);
                }
            }
        }
    }

    /**
     * Training mode on or off (layers such as {@link Dropout} and {@link BatchNorm2d} behave
     * differently); the default passes it to the children, through their {@link #train()} and
     * {@link #eval()}, so a module written before this method existed, which overrides those two,
     * still hears it. Modules start in training mode.
     */
    default void train(boolean on) {
        for (Module child : children().values()) {
            if (on) {
                child.train();
            } else {
                child.eval();
            }
        }
    }

    /** {@code train(true)}. */
    default void train() {
        train(true);
    }

    /** {@code train(false)}: dropout becomes the identity, batch norm uses its running statistics. */
    default void eval() {
        train(false);
    }
}
