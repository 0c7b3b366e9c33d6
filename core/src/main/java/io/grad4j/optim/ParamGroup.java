package io.grad4j.optim;

import io.grad4j.Tensor;

import java.util.List;

/**
 * Parameters that share a weight decay, as PyTorch's optimizer param groups: nanoGPT decays its
 * 2-D weights (0.1) and not its biases and norms (0).
 */
public record ParamGroup(List<Tensor> params, double weightDecay) {
    public ParamGroup {
        if (params == null) {
            throw new IllegalArgumentException("ParamGroup: params is null");
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("ParamGroup: weightDecay must be finite and >= 0, got " + weightDecay);
        }
        params = List.copyOf(params);
    }
}
