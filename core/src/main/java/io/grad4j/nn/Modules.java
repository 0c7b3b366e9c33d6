package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.Map;
import java.util.Set;

/** The walk behind {@link Module#namedParameters()} and {@link Module#stateDict()}. */
final class Modules {
    private Modules() {
    }

    /**
     * Adds m's tensors under {@code prefix}: its own parameters (and buffers when {@code withBuffers}),
     * then each child's under "prefix + name + '.'". With {@code seen}, a tensor already added is
     * skipped (named_parameters); without, every name is kept (state_dict).
     */
    static void collect(Module m, String prefix, boolean withBuffers, Map<String, Tensor> out, Set<Tensor> seen) {
        for (Map.Entry<String, Tensor> e : m.localParameters().entrySet()) {
            put(out, seen, prefix + e.getKey(), e.getValue());
        }
        if (withBuffers) {
            for (Map.Entry<String, Tensor> e : m.localBuffers().entrySet()) {
                put(out, seen, prefix + e.getKey(), e.getValue());
            }
        }
        for (Map.Entry<String, Module> c : m.children().entrySet()) {
            collect(c.getValue(), prefix + c.getKey() + ".", withBuffers, out, seen);
        }
    }

    private static void put(Map<String, Tensor> out, Set<Tensor> seen, String name, Tensor t) {
        if (t == null) {
            throw new IllegalStateException("module tensor '" + name + "' is null");
        }
        if (seen != null && !seen.add(t)) {
            return; // tied: already named
        }
        if (out.putIfAbsent(name, t) != null) {
            throw new IllegalStateException("two module tensors are both named '" + name + "'");
        }
    }
}
