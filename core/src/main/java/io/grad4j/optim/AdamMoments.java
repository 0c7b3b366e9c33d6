package io.grad4j.optim;

import io.grad4j.ForeachUpdates;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;

import io.grad4j.backend.AdamStep;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The moment estimates and update shared by {@link Adam} and {@link AdamW}, which differ only in
 * how weight decay enters (PyTorch's {@code torch.optim.Adam} and {@code AdamW}, amsgrad off):
 * <pre>
 *   t = t + 1                                   (per parameter, as PyTorch counts)
 *   Adam:  g = grad + weightDecay * theta
 *   AdamW: theta = theta * (1 - lr * weightDecay); g = grad
 *   m = beta1 * m + (1 - beta1) * g             (m, v start at zero)
 *   v = beta2 * v + (1 - beta2) * g^2
 *   theta = theta - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * </pre>
 * State per stepped parameter i: {@code "<i>.step"} (a FLOAT64 scalar), {@code "<i>.exp_avg"} (m)
 * and {@code "<i>.exp_avg_sq"} (v).
 */
abstract sealed class AdamMoments extends ParameterOptimizer permits Adam, AdamW {
    static final String STEP = "step";
    static final String EXP_AVG = "exp_avg";
    static final String EXP_AVG_SQ = "exp_avg_sq";
    private static final Set<String> BUFFERS = Set.of(STEP, EXP_AVG, EXP_AVG_SQ);

    private final boolean decoupledWeightDecay;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    /** Each parameter's weight decay: weightDecay, or its ParamGroup's. */
    private final double[] decay;
    private final long[] steps;
    private final Tensor[] expAvg;
    private final Tensor[] expAvgSq;

    AdamMoments(String name, boolean decoupledWeightDecay, List<Tensor> params,
                double lr, double beta1, double beta2, double eps, double weightDecay) {
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException(name + ": lr must be finite and > 0, got lr=" + lr);
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException(name + ": betas must lie in [0, 1), got beta1=" + beta1 + " beta2=" + beta2);
        }
        if (!(eps >= 0) || Double.isInfinite(eps)) {
            throw new IllegalArgumentException(name + ": eps must be finite and >= 0, got eps=" + eps);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException(name + ": weightDecay must be finite and >= 0, got weightDecay=" + weightDecay);
        }
        super(name, params, lr);
        this.decoupledWeightDecay = decoupledWeightDecay;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.decay = new double[this.params.size()];
        java.util.Arrays.fill(decay, weightDecay);
        this.steps = new long[this.params.size()];
        this.expAvg = new Tensor[this.params.size()];
        this.expAvgSq = new Tensor[this.params.size()];
    }

    /** Parameters in groups, each with its own weight decay (the other settings shared). */
    AdamMoments(String name, boolean decoupledWeightDecay, List<ParamGroup> groups, double lr, double beta1,
                double beta2, double eps) {
        this(name, decoupledWeightDecay, flatten(name, groups), lr, beta1, beta2, eps, 0.0);
        int i = 0;
        for (ParamGroup g : groups) {
            for (int k = 0; k < g.params().size(); k++) {
                decay[i++] = g.weightDecay();
            }
        }
    }

    private static List<Tensor> flatten(String name, List<ParamGroup> groups) {
        if (groups == null || groups.isEmpty()) {
            throw new IllegalArgumentException(name + ": needs at least one parameter group");
        }
        List<Tensor> all = new ArrayList<>();
        for (ParamGroup g : groups) {
            if (g == null) {
                throw new IllegalArgumentException(name + ": a parameter group is null");
            }
            all.addAll(g.params());
        }
        return all;
    }

    /** Parameter i's weight decay. */
    double weightDecayOf(int i) {
        return decay[i];
    }

    /**
     * All parameters with a gradient in one fused step ({@link ForeachUpdates#adam}): one pass
     * over each parameter's p, g, m and v instead of about a dozen operations with temporaries,
     * and on cuda one launch per 16 parameters. It rounds as the composed step would.
     */
    @Override
    public void step() {
        try (NoGrad ignored = Autograd.noGrad()) {
            int n = params.size();
            List<ForeachUpdates.AdamSlot> slots = new ArrayList<>(n);
            List<Integer> index = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                Tensor p = params.get(i);
                Tensor g = p.grad();
                if (g == null) {
                    continue;
                }
                long t = steps[i] + 1; // committed below, once the step has been issued
                boolean first = expAvg[i] == null;
                slots.add(new ForeachUpdates.AdamSlot(p, g,
                        first ? newBuffer(p) : expAvg[i], // a first step writes them without reading
                        first ? newBuffer(p) : expAvgSq[i],
                        lr / (1 - Math.pow(beta1, t)), 1.0 / Math.sqrt(1 - Math.pow(beta2, t)), first));
                index.add(i);
            }
            if (slots.isEmpty()) {
                return;
            }
            // one fused call per weight decay (one without groups; two for nanoGPT's decay / no-decay split)
            Map<Double, List<Integer>> byDecay = new LinkedHashMap<>();
            for (int j = 0; j < slots.size(); j++) {
                byDecay.computeIfAbsent(decay[index.get(j)], k -> new ArrayList<>()).add(j);
            }
            for (Map.Entry<Double, List<Integer>> group : byDecay.entrySet()) {
                List<ForeachUpdates.AdamSlot> part = new ArrayList<>(group.getValue().size());
                for (int j : group.getValue()) {
                    part.add(slots.get(j));
                }
                try {
                    ForeachUpdates.adam(new AdamStep(lr, beta1, beta2, eps, group.getKey(), decoupledWeightDecay), part);
                } catch (RuntimeException | Error e) {
                    // this group's parameters are not committed: a retried step is again a first step for them
                    for (ForeachUpdates.AdamSlot slot : part) {
                        if (slot.first()) {
                            slot.m().close();
                            slot.v().close();
                        }
                    }
                    throw e;
                }
                for (int j : group.getValue()) {
                    int i = index.get(j);
                    steps[i]++;
                    expAvg[i] = slots.get(j).m();
                    expAvgSq[i] = slots.get(j).v();
                }
            }
        }
    }

    /** A moment buffer for p, on p's backend (contents irrelevant: a first step writes it whole). */
    private static Tensor newBuffer(Tensor p) {
        try (io.grad4j.backend.Backends.Scope ignored = io.grad4j.backend.Backends.use(p.backend())) {
            return Tensor.zeros(p.dtype(), p.shape()).persistent();
        }
    }

    @Override
    public Map<String, Tensor> state() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            if (expAvg[i] != null) {
                out.put(OptimizerState.key(i, STEP), OptimizerState.stepTensor(steps[i], params.get(i)));
                out.put(OptimizerState.key(i, EXP_AVG), OptimizerState.copy(expAvg[i]));
                out.put(OptimizerState.key(i, EXP_AVG_SQ), OptimizerState.copy(expAvgSq[i]));
            }
        }
        return out;
    }

    @Override
    public void loadState(Map<String, Tensor> state) {
        boolean[] present = OptimizerState.checkNames(name, state, params.size(), BUFFERS);
        long[] loadedSteps = new long[params.size()];
        for (int i = 0; i < present.length; i++) {
            if (present[i]) {
                loadedSteps[i] = OptimizerState.readStep(name, state, OptimizerState.key(i, STEP));
                OptimizerState.checkBuffer(name, state, OptimizerState.key(i, EXP_AVG), params.get(i));
                OptimizerState.checkBuffer(name, state, OptimizerState.key(i, EXP_AVG_SQ), params.get(i));
            }
        }
        OptimizerState.closeAll(expAvg);
        OptimizerState.closeAll(expAvgSq);
        for (int i = 0; i < present.length; i++) {
            steps[i] = loadedSteps[i];
            if (present[i]) {
                expAvg[i] = OptimizerState.loadBuffer(state.get(OptimizerState.key(i, EXP_AVG)), params.get(i));
                expAvgSq[i] = OptimizerState.loadBuffer(state.get(OptimizerState.key(i, EXP_AVG_SQ)), params.get(i));
            }
        }
    }
}
