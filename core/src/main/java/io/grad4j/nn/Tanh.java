package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.List;

/** The elementwise {@code tanh} as a layer without parameters. */
public final class Tanh implements Module {
    @Override
    public Tensor forward(Tensor x) {
        return x.tanh();
    }

    @Override
    public List<Tensor> parameters() {
        return List.of();
    }
}
