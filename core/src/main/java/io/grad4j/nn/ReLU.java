package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.List;

/** The elementwise {@code relu} as a layer without parameters. */
public final class ReLU implements Module {
    @Override
    public Tensor forward(Tensor x) {
        return x.relu();
    }

    @Override
    public List<Tensor> parameters() {
        return List.of();
    }
}
