package io.grad4j.optim;

import io.grad4j.Tensor;

import java.util.List;

/**
 * AdamW (Loshchilov and Hutter), as PyTorch's {@code torch.optim.AdamW}: weight decay is decoupled
 * from the gradient, {@code theta = theta * (1 - lr * weightDecay)} first, then the Adam update with
 * the plain gradient.
 * State per stepped parameter i (see {@link Optimizer#state()}): {@code "<i>.step"} (a FLOAT64
 * scalar), {@code "<i>.exp_avg"} and {@code "<i>.exp_avg_sq"}. Defaults as
 * PyTorch: betas (0.9, 0.999), eps 1e-8, weightDecay 0.01.
 */
public final class AdamW extends AdamMoments {
    public AdamW(List<Tensor> params, double lr) {
        this(params, lr, 0.9, 0.999, 1e-8, 0.01);
    }

    public AdamW(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        super("AdamW", true, params, lr, beta1, beta2, eps, weightDecay);
    }

    /**
     * Parameters in groups with their own weight decay, the rest shared (PyTorch's param groups):
     * {@code new AdamW(List.of(new ParamGroup(matrices, 0.1), new ParamGroup(others, 0)), 1e-3, 0.9, 0.99, 1e-8)}.
     * State keys number the parameters through the groups in order.
     */
    public AdamW(List<ParamGroup> groups, double lr, double beta1, double beta2, double eps) {
        super("AdamW", true, groups, lr, beta1, beta2, eps);
    }
}
