package io.grad4j.optim;

import io.grad4j.Tensor;

import java.util.List;

/**
 * Adam (Kingma and Ba), as PyTorch's {@code torch.optim.Adam}: weight decay is L2 regularisation
 * added to the gradient, {@code g = grad + weightDecay * theta}, before the moment estimates.
 * State per stepped parameter i (see {@link Optimizer#state()}): {@code "<i>.step"} (a FLOAT64
 * scalar), {@code "<i>.exp_avg"} and {@code "<i>.exp_avg_sq"}. Defaults as PyTorch: betas (0.9, 0.999),
 * eps 1e-8, weightDecay 0.
 */
public final class Adam extends AdamMoments {
    public Adam(List<Tensor> params, double lr) {
        this(params, lr, 0.9, 0.999, 1e-8, 0.0);
    }

    public Adam(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        super("Adam", false, params, lr, beta1, beta2, eps, weightDecay);
    }
}
