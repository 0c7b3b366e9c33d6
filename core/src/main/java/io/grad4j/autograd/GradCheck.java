package io.grad4j.autograd;

import io.grad4j.DType;
import io.grad4j.Engine;
import io.grad4j.Tensor;
import io.grad4j.backend.Backends;

import java.util.Arrays;
import java.util.Objects;
import java.util.function.Function;

/**
 * Numeric gradient checking: every element of the analytic Jacobian of f (from backward passes)
 * is compared with central differences (f(x + h e_j) - f(x - h e_j)) / 2h. An element passes when
 * |analytic - numeric| <= atol + rtol * |numeric| (PyTorch's gradcheck criterion). Inputs must be
 * FLOAT64: float32 rounding swamps the differences.
 */
public final class GradCheck {
    private GradCheck() {
    }

    /** Tolerances: step {@code eps}, absolute {@code atol}, relative {@code rtol}. */
    public record Options(double eps, double atol, double rtol) {
        public static final Options DEFAULT = new Options(1e-6, 1e-5, 1e-3);

        public Options {
            if (!(eps > 0) || !(atol >= 0) || !(rtol >= 0)) {
                throw new IllegalArgumentException("GradCheck.Options need eps > 0, atol >= 0, rtol >= 0; got eps="
                        + eps + " atol=" + atol + " rtol=" + rtol);
            }
        }
    }

    /** Outcome; {@code report} names the input and element of the worst mismatch. */
    public record Result(boolean passed, double maxAbsError, double maxRelError, String report) {
    }

    public static Result check(Function<Tensor[], Tensor> f, Tensor... inputs) {
        return check(f, Options.DEFAULT, inputs);
    }

    public static Result check(Function<Tensor[], Tensor> f, Options options, Tensor... inputs) {
        Objects.requireNonNull(f, "f");
        Objects.requireNonNull(options, "options");
        if (inputs.length == 0) {
            throw new IllegalArgumentException("GradCheck.check needs at least one input");
        }
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i].dtype() != DType.FLOAT64) {
                throw new IllegalArgumentException("GradCheck needs FLOAT64 inputs (central differences in float32 are "
                        + "too coarse); input " + i + " is " + inputs[i].dtype() + " - convert with to(DType.FLOAT64)");
            }
        }
        Tensor[] leaves = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            leaves[i] = inputs[i].detach().requiresGrad(true);
        }
        Tensor y = f.apply(leaves);
        if (y.dtype() != DType.FLOAT64) {
            throw new IllegalArgumentException("GradCheck: f returned " + y.dtype() + "; it must compute in FLOAT64");
        }
        int[] yShape = y.shape();
        int m = Autograd.jacobianSize(y.numel(), 1);

        // analytic[input][i * n + j] = d y_i / d x_j, one backward pass per output element
        double[][] analytic = new double[inputs.length][];
        for (int p = 0; p < inputs.length; p++) {
            analytic[p] = new double[Autograd.jacobianSize(m, inputs[p].numel())];
        }
        for (int i = 0; i < m; i++) {
            Tensor[] rows = y.requiresGrad()
                    ? Engine.gradients(y, Autograd.basis(y, i), i < m - 1, leaves)
                    : new Tensor[inputs.length];
            for (int p = 0; p < inputs.length; p++) {
                if (rows[p] != null) {
                    int n = Math.toIntExact(inputs[p].numel());
                    System.arraycopy(rows[p].toDoubleArray(), 0, analytic[p], i * n, n);
                }
            }
        }

        double maxAbs = 0;
        double maxRel = 0;
        double worstScore = -1;
        String worst = "no elements compared";
        boolean passed = true;
        try (NoGrad ignored = Autograd.noGrad(); Backends.Scope scope = Backends.use(inputs[0].backend())) {
            for (int p = 0; p < inputs.length; p++) {
                double[] base = inputs[p].toDoubleArray();
                int[] shape = inputs[p].shape();
                int n = base.length;
                for (int j = 0; j < n; j++) {
                    double[] plus = evaluate(f, inputs, p, base, shape, j, options.eps());
                    double[] minus = evaluate(f, inputs, p, base, shape, j, -options.eps());
                    for (int i = 0; i < m; i++) {
                        double numeric = (plus[i] - minus[i]) / (2 * options.eps());
                        double a = analytic[p][i * n + j];
                        double abs = Math.abs(a - numeric);
                        double rel = abs / Math.max(Math.abs(numeric), 1e-12);
                        double tolerance = options.atol() + options.rtol() * Math.abs(numeric);
                        boolean ok = abs <= tolerance;
                        if (!ok) {
                            passed = false;
                        }
                        if (Double.isNaN(a) || Double.isNaN(numeric)) {
                            passed = false;
                            abs = Double.NaN;
                        }
                        maxAbs = Double.isNaN(abs) ? Double.NaN : Math.max(maxAbs, abs);
                        maxRel = Math.max(maxRel, rel);
                        double score = Double.isNaN(abs) ? Double.POSITIVE_INFINITY : abs / Math.max(tolerance, 1e-300);
                        if (score > worstScore) {
                            worstScore = score;
                            worst = "input " + p + " element " + Arrays.toString(unravel(j, shape))
                                    + ", output element " + Arrays.toString(unravel(i, yShape))
                                    + ": analytic " + a + " vs numeric " + numeric + " (|diff| " + abs
                                    + ", allowed " + tolerance + ")";
                        }
                    }
                }
            }
        }
        String report = (passed ? "gradcheck passed" : "gradcheck FAILED") + "; worst: " + worst
                + String.format("; max abs error %.3g, max rel error %.3g (eps %.1g, atol %.1g, rtol %.1g)",
                maxAbs, maxRel, options.eps(), options.atol(), options.rtol());
        return new Result(passed, maxAbs, maxRel, report);
    }

    private static double[] evaluate(Function<Tensor[], Tensor> f, Tensor[] inputs, int p, double[] base,
                                     int[] shape, int j, double delta) {
        double[] moved = base.clone();
        moved[j] += delta;
        Tensor[] args = inputs.clone();
        args[p] = Tensor.of(moved, shape);
        return f.apply(args).toDoubleArray();
    }

    private static int[] unravel(int flat, int[] shape) {
        int[] idx = new int[shape.length];
        for (int a = shape.length - 1; a >= 0; a--) {
            if (shape[a] > 0) {
                idx[a] = flat % shape[a];
                flat /= shape[a];
            }
        }
        return idx;
    }
}
