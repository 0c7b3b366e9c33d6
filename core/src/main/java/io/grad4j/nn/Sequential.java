package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Layers applied in order. */
public final class Sequential implements Module {
    private final List<Module> layers;

    public Sequential(Module... layers) {
        if (layers.length == 0) {
            throw new IllegalArgumentException("Sequential needs at least one layer");
        }
        this.layers = List.of(layers);
    }

    public List<Module> layers() {
        return layers;
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor h = x;
        for (Module m : layers) {
            h = m.forward(h);
        }
        return h;
    }

    /** The layers as children "0", "1", ...: PyTorch's names for a Sequential's layers. */
    @Override
    public Map<String, Module> children() {
        Map<String, Module> named = new LinkedHashMap<>();
        for (int i = 0; i < layers.size(); i++) {
            named.put(String.valueOf(i), layers.get(i));
        }
        return named;
    }

    @Override
    public List<Tensor> parameters() {
        List<Tensor> all = new ArrayList<>();
        for (Module m : layers) {
            all.addAll(m.parameters());
        }
        return Collections.unmodifiableList(all);
    }
}
