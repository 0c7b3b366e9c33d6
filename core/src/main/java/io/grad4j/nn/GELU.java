package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.List;

/** x Phi(x), the exact (erf) GELU: PyTorch's nn.GELU(). */
public final class GELU implements Module {
    @Override
    public Tensor forward(Tensor x) {
        return x.gelu();
    }

    @Override
    public List<Tensor> parameters() {
        return List.of();
    }
}
