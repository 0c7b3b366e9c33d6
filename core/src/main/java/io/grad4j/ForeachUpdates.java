package io.grad4j;

import io.grad4j.backend.AdamStep;
import io.grad4j.backend.Storage;
import io.grad4j.autograd.GradMode;

import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * In-place updates of many tensors in one backend call per backend and dtype, as PyTorch's
 * multi-tensor ("foreach") optimizer steps: the cuda backend updates up to 32 tensors per kernel
 * launch for {@link #axpby}, 16 parameters for {@link #adam}. Each call gives the same bits as
 * updating the tensors one at a time. Tensors that share memory with one another (a parameter
 * listed twice, tied weights) would make the result depend on the order inside the backend, so
 * those are updated one at a time, in order; views too. Optimizers call these inside
 * {@link io.grad4j.autograd.Autograd#noGrad()}.
 */
public final class ForeachUpdates {
    private ForeachUpdates() {
    }

    /**
     * {@code targets[i] = beta * targets[i] + alpha * xs[i]} for every i: the same as calling
     * {@link Tensor#updateInPlace} for each pair in order (each pair is checked as it checks).
     */
    public static void axpby(double beta, double alpha, List<Tensor> targets, List<Tensor> xs) {
        if (targets.size() != xs.size()) {
            throw new IllegalArgumentException("ForeachUpdates.axpby: " + targets.size() + " targets for " + xs.size() + " xs");
        }
        Map<StorageRef, Integer> targetOf = new IdentityHashMap<>();
        boolean oneAtATime = false;
        for (int i = 0; i < targets.size(); i++) {
            Tensor t = targets.get(i);
            Tensor x = xs.get(i);
            if (t == null || x == null) {
                throw new IllegalArgumentException("ForeachUpdates.axpby: " + (t == null ? "target" : "x") + " " + i + " is null");
            }
            String op = "ForeachUpdates.axpby (pair " + i + ")";
            Tensor.checkCompatible(op, t, x);
            if (!Arrays.equals(t.shapeInternal(), x.shapeInternal())) {
                throw new IllegalArgumentException(op + ": shapes differ: target " + Arrays.toString(t.shapeInternal())
                        + " vs x " + Arrays.toString(x.shapeInternal()));
            }
            if (t.requiresGradInternal() && GradMode.isEnabled()) {
                throw new IllegalStateException(op + " on a tensor that requires grad must happen inside "
                        + "Autograd.noGrad() (as optimizers do)");
            }
            oneAtATime |= targetOf.putIfAbsent(t.ref(), i) != null;
            oneAtATime |= !t.isDense() || !x.isDense();
        }
        for (int i = 0; i < xs.size() && !oneAtATime; i++) {
            Integer target = targetOf.get(xs.get(i).ref());
            oneAtATime = target != null && target != i;
        }
        if (oneAtATime) {
            for (int i = 0; i < targets.size(); i++) {
                targets.get(i).updateInPlace(beta, alpha, xs.get(i));
            }
            return;
        }
        for (List<Integer> group : byBackendAndDtype(targets)) {
            List<Storage> xStorages = new ArrayList<>(group.size());
            List<Storage> tStorages = new ArrayList<>(group.size());
            for (int i : group) {
                xStorages.add(xs.get(i).storage());
                tStorages.add(targets.get(i).storage());
            }
            targets.get(group.getFirst()).backendInternal().axpbyEach(alpha, xStorages, beta, tStorages);
            for (int i : group) {
                targets.get(i).markModified();
            }
        }
        Reference.reachabilityFence(targets);
        Reference.reachabilityFence(xs);
    }

    /**
     * One parameter's part of an Adam/AdamW step: its gradient, its moment buffers m and v (the
     * parameter's shape, dtype and backend; on a first step they are written without being read),
     * the step size {@code lr / (1 - beta1^t)} and {@code 1 / sqrt(1 - beta2^t)}.
     */
    public record AdamSlot(Tensor param, Tensor grad, Tensor m, Tensor v, double stepSize,
                           double invBiasCorrection2Sqrt, boolean first) {
    }

    /**
     * One Adam/AdamW step for every slot ({@link io.grad4j.backend.Backend#adamEach}: the cpu
     * backend runs one loop per parameter, the cuda backend one launch per 16 parameters), rounding
     * exactly as the same step composed of tensor operations. Slots whose tensors share memory are
     * stepped one at a time, in order.
     */
    public static void adam(AdamStep step, List<AdamSlot> slots) {
        Set<StorageRef> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        boolean oneAtATime = false;
        for (int i = 0; i < slots.size(); i++) {
            AdamSlot s = slots.get(i);
            String op = "ForeachUpdates.adam (parameter " + i + ")";
            if (s == null || s.param() == null) {
                throw new IllegalArgumentException(op + ": the slot or its parameter is null");
            }
            Tensor p = s.param();
            for (Tensor other : new Tensor[] {s.grad(), s.m(), s.v()}) {
                Tensor.checkCompatible(op, p, other);
                if (!Arrays.equals(p.shapeInternal(), other.shapeInternal())) {
                    throw new IllegalArgumentException(op + ": shapes differ: parameter " + Arrays.toString(p.shapeInternal())
                            + " vs " + Arrays.toString(other.shapeInternal()));
                }
            }
            if (p.requiresGradInternal() && GradMode.isEnabled()) {
                throw new IllegalStateException(op + " must happen inside Autograd.noGrad() (as optimizers do)");
            }
            for (Tensor t : new Tensor[] {p, s.grad(), s.m(), s.v()}) {
                if (!t.isDense()) {
                    throw new IllegalArgumentException(op + ": a view (" + t.describeLayout() + ") cannot be"
                            + " stepped in place; give the optimizer whole tensors (parameters, not views of them)");
                }
            }
            oneAtATime |= !seen.add(p.ref()) | !seen.add(s.m().ref()) | !seen.add(s.v().ref());
        }
        for (int i = 0; i < slots.size() && !oneAtATime; i++) {
            oneAtATime = seen.contains(slots.get(i).grad().ref()); // a gradient that is also something updated
        }
        if (oneAtATime) {
            for (AdamSlot s : slots) {
                adamGroup(step, List.of(s));
            }
            return;
        }
        for (List<Integer> group : byBackendAndDtype(slots.stream().map(AdamSlot::param).toList())) {
            adamGroup(step, group.stream().map(slots::get).toList());
        }
    }

    private static void adamGroup(AdamStep step, List<AdamSlot> group) {
        int k = group.size();
        List<Storage> ps = new ArrayList<>(k);
        List<Storage> gs = new ArrayList<>(k);
        List<Storage> ms = new ArrayList<>(k);
        List<Storage> vs = new ArrayList<>(k);
        double[] sizes = new double[k];
        double[] inv = new double[k];
        boolean[] firsts = new boolean[k];
        for (int j = 0; j < k; j++) {
            AdamSlot s = group.get(j);
            ps.add(s.param().storage());
            gs.add(s.grad().storage());
            ms.add(s.first() ? s.m().ref().storageUnwritten() : s.m().storage());
            vs.add(s.first() ? s.v().ref().storageUnwritten() : s.v().storage());
            sizes[j] = s.stepSize();
            inv[j] = s.invBiasCorrection2Sqrt();
            firsts[j] = s.first();
        }
        group.getFirst().param().backendInternal().adamEach(step, ps, gs, ms, vs, sizes, inv, firsts);
        for (AdamSlot s : group) {
            s.param().markModified();
            s.m().markModified();
            s.v().markModified();
            if (s.first()) { // first steps wrote m and v whole: zeros owed on them are moot
                s.m().ref().overwritten();
                s.v().ref().overwritten();
            }
        }
        Reference.reachabilityFence(group);
    }

    /**
     * For each {target, source} pair (same shape, dtype and backend; targets distinct): copies
     * source over target in one backend call per backend and dtype ({@link io.grad4j.backend.Backend#copyEach}),
     * then drops the zeros {@link Tensor#zeroGrad} deferred on the targets (only once the copies are
     * issued: if they fail, readers still see zeros). Closed targets are skipped. The engine's
     * gradients landing on their leaves.
     */
    static void overwrite(List<Tensor[]> pairs) {
        if (pairs.isEmpty()) {
            return;
        }
        List<Tensor[]> open = pairs.stream().filter(pair -> !pair[0].isClosed()).toList();
        for (List<Integer> group : byBackendAndDtype(open.stream().map(pair -> pair[0]).toList())) {
            List<Storage> sources = new ArrayList<>(group.size());
            List<Storage> targets = new ArrayList<>(group.size());
            for (int i : group) {
                sources.add(open.get(i)[1].storage());
                targets.add(open.get(i)[0].ref().storageUnwritten());
            }
            open.get(group.getFirst())[0].backendInternal().copyEach(sources, targets);
            for (int i : group) {
                open.get(i)[0].ref().overwritten();
                open.get(i)[0].markModified();
            }
        }
        Reference.reachabilityFence(open);
    }

    /**
     * Indices of {@code tensors} grouped by backend and dtype, in first-seen order (in practice all
     * parameters of a model share both, so there is one group).
     */
    private static Collection<List<Integer>> byBackendAndDtype(List<Tensor> tensors) {
        Map<List<Object>, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            groups.computeIfAbsent(List.of(t.backendInternal(), t.dtypeInternal()), k -> new ArrayList<>()).add(i);
        }
        return groups.values();
    }
}
