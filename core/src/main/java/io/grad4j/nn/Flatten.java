package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.List;

/** [N, d1, d2, ...] to [N, d1 * d2 * ...]: PyTorch's nn.Flatten() (start_dim 1). */
public final class Flatten implements Module {
    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() < 2) {
            return x;
        }
        return x.reshape(x.shape()[0], -1);
    }

    @Override
    public List<Tensor> parameters() {
        return List.of();
    }
}
