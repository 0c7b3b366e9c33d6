package io.grad4j.optim;

import io.grad4j.ForeachUpdates;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Stochastic gradient descent, theta <- theta - lr * g, with PyTorch's conventions for momentum,
 * weight decay and Nesterov momentum:
 * <pre>
 *   g = grad + weightDecay * theta
 *   v = momentum * v + g          (v starts as g)
 *   g = nesterov ? g + momentum * v : v
 *   theta <- theta - lr * g
 * </pre>
 * Parameters without a gradient are skipped. State: {@code "<i>.momentum"} (v) for each stepped
 * parameter when momentum is non-zero; none otherwise.
 */
public final class SGD extends ParameterOptimizer {
    private static final String MOMENTUM = "momentum";

    private final double momentum;
    private final double weightDecay;
    private final boolean nesterov;
    private final Tensor[] velocity;

    public SGD(List<Tensor> params, double lr) {
        this(params, lr, 0.0, 0.0);
    }

    public SGD(List<Tensor> params, double lr, double momentum, double weightDecay) {
        this(params, lr, momentum, weightDecay, false);
    }

    /** With {@code nesterov}, momentum must be > 0 (PyTorch's rule: Nesterov needs a velocity to look ahead with). */
    public SGD(List<Tensor> params, double lr, double momentum, double weightDecay, boolean nesterov) {
        if (!(lr > 0) || !(momentum >= 0) || !(weightDecay >= 0)
                || Double.isInfinite(lr) || Double.isInfinite(momentum) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("SGD needs finite lr > 0, momentum >= 0, weightDecay >= 0; got lr=" + lr
                    + " momentum=" + momentum + " weightDecay=" + weightDecay);
        }
        if (nesterov && momentum == 0) {
            throw new IllegalArgumentException("SGD: Nesterov momentum needs momentum > 0, got momentum=" + momentum
                    + "; pass a momentum such as 0.9 or set nesterov to false");
        }
        super("SGD", params, lr); // validation first: Java 25 allows statements before super()
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
        this.velocity = new Tensor[this.params.size()];
    }

    @Override
    public void step() {
        try (NoGrad ignored = Autograd.noGrad()) {
            if (momentum == 0) {
                plainStep();
                return;
            }
            if (weightDecay == 0 && !nesterov) {
                momentumStep();
                return;
            }
            for (int i = 0; i < params.size(); i++) {
                Tensor p = params.get(i);
                Tensor grad = p.grad();
                if (grad == null) {
                    continue;
                }
                Tensor g = weightDecay != 0 ? grad.add(p.mul(weightDecay)) : grad;
                if (velocity[i] == null) {
                    velocity[i] = g.mul(1.0).persistent(); // v starts as g
                } else {
                    velocity[i].updateInPlace(momentum, 1.0, g); // v <- momentum * v + g
                }
                Tensor v = velocity[i];
                if (nesterov) {
                    p.updateInPlace(1.0, -lr, g);          // theta -= lr * (g + momentum * v)
                    p.updateInPlace(1.0, -lr * momentum, v);
                } else {
                    p.updateInPlace(1.0, -lr, v);
                }
            }
        }
    }

    /**
     * v <- momentum * v + grad, then theta <- theta - lr * v, each as one multi-tensor update over
     * all parameters with a gradient (two kernel launches per 32 parameters on a GPU instead of
     * two per parameter). Without weight decay and Nesterov, neither update reads what the other
     * changes, so updating all velocities first gives exactly the per-parameter results.
     */
    private void momentumStep() {
        List<Tensor> stepped = new ArrayList<>(params.size());
        List<Tensor> velocities = new ArrayList<>(params.size());
        List<Tensor> updated = new ArrayList<>(params.size());
        List<Tensor> grads = new ArrayList<>(params.size());
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            Tensor grad = p.grad();
            if (grad == null) {
                continue;
            }
            if (velocity[i] == null) {
                velocity[i] = grad.mul(1.0).persistent(); // v starts as g
            } else {
                updated.add(velocity[i]);
                grads.add(grad);
            }
            stepped.add(p);
            velocities.add(velocity[i]);
        }
        ForeachUpdates.axpby(momentum, 1.0, updated, grads);
        ForeachUpdates.axpby(1.0, -lr, stepped, velocities);
    }

    /**
     * theta <- (1 - lr * wd) * theta - lr * grad for every parameter with a gradient, all in one
     * multi-tensor update: one pass over each parameter, no temporaries, and on a GPU one kernel
     * launch for up to 32 parameters instead of one each.
     */
    private void plainStep() {
        List<Tensor> stepped = new ArrayList<>(params.size());
        List<Tensor> grads = new ArrayList<>(params.size());
        for (Tensor p : params) {
            Tensor grad = p.grad();
            if (grad != null) {
                stepped.add(p);
                grads.add(grad);
            }
        }
        ForeachUpdates.axpby(1 - lr * weightDecay, -lr, stepped, grads);
    }

    @Override
    public Map<String, Tensor> state() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < velocity.length; i++) {
            if (velocity[i] != null) {
                out.put(OptimizerState.key(i, MOMENTUM), OptimizerState.copy(velocity[i]));
            }
        }
        return out;
    }

    @Override
    public void loadState(Map<String, Tensor> state) {
        Set<String> buffers = momentum != 0 ? Set.of(MOMENTUM) : Set.of();
        boolean[] present = OptimizerState.checkNames("SGD", state, params.size(), buffers);
        for (int i = 0; i < present.length; i++) {
            if (present[i]) {
                OptimizerState.checkBuffer("SGD", state, OptimizerState.key(i, MOMENTUM), params.get(i));
            }
        }
        OptimizerState.closeAll(velocity);
        for (int i = 0; i < present.length; i++) {
            if (present[i]) {
                velocity[i] = OptimizerState.loadBuffer(state.get(OptimizerState.key(i, MOMENTUM)), params.get(i));
            }
        }
    }
}
