package io.grad4j.examples;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.GradCheck;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.Backends;
import io.grad4j.checkpoint.Checkpoint;
import io.grad4j.data.Batch;
import io.grad4j.data.DataLoader;
import io.grad4j.data.Dataset;
import io.grad4j.nn.Losses;
import io.grad4j.nn.Module;
import io.grad4j.nn.Sequential;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code grad4j gradcheck}: the training model's gradients against central differences. A FLOAT64
 * copy of the MLP that {@code grad4j train} builds computes the cross-entropy of a batch of the
 * shipped digits; backward gives every analytic gradient, and for a seeded sample of elements of
 * each parameter the loss is re-evaluated at theta +- eps: numeric = (L(theta+eps) - L(theta-eps)) / 2 eps.
 * An element passes when |analytic - numeric| <= atol + rtol * |numeric| (GradCheck's defaults).
 */
@Command(name = "gradcheck", description = "Check the model's gradients numerically (FLOAT64, central differences), per parameter.")
final class GradCheckCommand implements Callable<Integer> {
    @Option(names = "--backend", description = "cpu, cuda or auto")
    String backend;

    @Option(names = "--hidden", split = ",", defaultValue = "256,128", description = "hidden layer sizes, as for train (default ${DEFAULT-VALUE})")
    int[] hidden;

    @Option(names = "--samples", defaultValue = "12", description = "elements checked per parameter (default ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--batch", defaultValue = "32", description = "digits in the loss (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--seed", defaultValue = "7", description = "seed for the model and the sampled elements (default ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() throws java.io.IOException {
        if (samples < 1 || batch < 1) {
            throw new IllegalArgumentException("--samples and --batch must be >= 1, got " + samples + " and " + batch);
        }
        for (int h : hidden) {
            if (h < 1) {
                throw new IllegalArgumentException("--hidden sizes must be >= 1, got " + h);
            }
        }
        Grad4jCli.selectBackend(backend);
        GradCheck.Options tol = GradCheck.Options.DEFAULT;
        Dataset digits = TrainCommand.shipped("t10k");
        Batch b = new DataLoader(digits, batch, false, 0).epoch(0).iterator().next();
        Tensor x = b.features().to(DType.FLOAT64);
        int[] labels = b.labels();

        Sequential model = Mlp.build(digits.features(), hidden, 10, seed, DType.FLOAT64, 0).model();
        Losses.crossEntropy(model.forward(x), labels).backward();

        System.out.printf(Locale.ROOT, "gradcheck on %s: MLP %s (FLOAT64), cross-entropy of %d digits, %d sampled elements per parameter%n",
                Backends.current().name(), shape(digits.features()), batch, samples);
        System.out.printf(Locale.ROOT, "eps %.0e, pass when |analytic - numeric| <= %.0e + %.0e * |numeric|%n", tol.eps(), tol.atol(), tol.rtol());
        System.out.printf(Locale.ROOT, "%-10s %-12s %8s %12s %12s  %s%n", "parameter", "shape", "checked", "max abs err", "max rel err", "result");
        SplittableRandom rnd = new SplittableRandom(seed);
        boolean all = true;
        for (Map.Entry<String, Tensor> e : Checkpoint.named(model).entrySet()) {
            Tensor p = e.getValue();
            double[] theta = p.toDoubleArray();
            double[] analytic = p.grad().toDoubleArray();
            int n = Math.min(samples, theta.length);
            double maxAbs = 0;
            double maxRel = 0;
            boolean ok = true;
            String worst = "";
            for (int k = 0; k < n; k++) {
                int i = rnd.nextInt(theta.length);
                double numeric = (lossAt(model, p, theta, i, tol.eps(), x, labels) - lossAt(model, p, theta, i, -tol.eps(), x, labels))
                        / (2 * tol.eps());
                double abs = Math.abs(analytic[i] - numeric);
                double rel = abs / Math.max(Math.abs(numeric), 1e-12);
                if (abs > tol.atol() + tol.rtol() * Math.abs(numeric) || Double.isNaN(abs)) {
                    ok = false;
                    worst = String.format(Locale.ROOT, " (element %d: analytic %.6g, numeric %.6g)", i, analytic[i], numeric);
                }
                maxAbs = Math.max(maxAbs, abs);
                maxRel = Math.max(maxRel, rel);
            }
            restore(p, theta);
            all &= ok;
            System.out.printf(Locale.ROOT, "%-10s %-12s %8d %12.3e %12.3e  %s%n", e.getKey(), Arrays.toString(p.shape()), n,
                    maxAbs, maxRel, ok ? "pass" : "FAIL" + worst);
        }
        System.out.println(all ? "all gradients match" : "gradient mismatch");
        return all ? 0 : 1;
    }

    private String shape(int features) {
        StringBuilder sb = new StringBuilder().append(features);
        for (int h : hidden) {
            sb.append('-').append(h);
        }
        return sb.append("-10").toString();
    }

    /** The loss with element i of p moved by delta (p is restored by the caller). */
    private static double lossAt(Module model, Tensor p, double[] theta, int i, double delta, Tensor x, int[] labels) {
        double[] moved = theta.clone();
        moved[i] += delta;
        restore(p, moved);
        try (NoGrad ignored = Autograd.noGrad()) {
            return Losses.crossEntropy(model.forward(x), labels).item();
        }
    }

    private static void restore(Tensor p, double[] values) {
        try (NoGrad ignored = Autograd.noGrad(); Backends.Scope s = Backends.use(p.backend())) {
            p.assign(Tensor.of(values, p.shape()));
        }
    }
}
