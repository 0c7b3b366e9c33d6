package io.grad4j.optim;

import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;

import java.util.ArrayList;
import java.util.List;

/**
 * Stochastic gradient descent, theta <- theta - lr * g, with PyTorch's conventions for momentum
 * and weight decay: g = grad + weightDecay * theta; v = momentum * v + g (v starts as g);
 * theta <- theta - lr * v. Parameters without a gradient are skipped.
 */
public final class SGD implements Optimizer {
    private final List<Tensor> params;
    private final double lr;
    private final double momentum;
    private final double weightDecay;
    private final Tensor[] velocity;

    public SGD(List<Tensor> params, double lr) {
        this(params, lr, 0.0, 0.0);
    }

    public SGD(List<Tensor> params, double lr, double momentum, double weightDecay) {
        if (!(lr > 0) || !(momentum >= 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("SGD needs lr > 0, momentum >= 0, weightDecay >= 0; got lr=" + lr
                    + " momentum=" + momentum + " weightDecay=" + weightDecay);
        }
        this.params = new ArrayList<>(params);
        for (Tensor p : this.params) {
            if (!p.requiresGrad()) {
                throw new IllegalArgumentException("SGD: a parameter does not require grad: " + p);
            }
        }
        this.lr = lr;
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.velocity = new Tensor[this.params.size()];
    }

    @Override
    public void step() {
        try (NoGrad ignored = Autograd.noGrad()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor p = params.get(i);
                Tensor g = p.grad();
                if (g == null) {
                    continue;
                }
                if (weightDecay != 0) {
                    g = g.add(p.mul(weightDecay));
                }
                if (momentum != 0) {
                    Tensor v = velocity[i] == null ? g.mul(1.0) : velocity[i].mul(momentum).add(g);
                    if (velocity[i] != null) {
                        velocity[i].close();
                    }
                    velocity[i] = v.persistent();
                    g = v;
                }
                p.assign(p.sub(g.mul(lr)));
            }
        }
    }

    @Override
    public void zeroGrad() {
        for (Tensor p : params) {
            p.zeroGrad();
        }
    }
}
