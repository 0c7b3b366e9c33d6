package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.List;

/** The elementwise {@code sigmoid} as a layer without parameters. */
public final class Sigmoid implements Module {
    @Override
    public Tensor forward(Tensor x) {
        return x.sigmoid();
    }

    @Override
    public List<Tensor> parameters() {
        return List.of();
    }
}
