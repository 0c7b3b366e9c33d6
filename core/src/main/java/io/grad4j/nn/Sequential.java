package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

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

    /** Switches every layer to training mode. */
    @Override
    public void train() {
        for (Module m : layers) {
            m.train();
        }
    }

    /** Switches every layer to evaluation mode. */
    @Override
    public void eval() {
        for (Module m : layers) {
            m.eval();
        }
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
