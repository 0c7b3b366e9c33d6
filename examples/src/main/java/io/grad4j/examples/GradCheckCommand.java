package io.grad4j.examples;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.GradCheck;
import io.grad4j.backend.Backends;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;
import java.util.function.Function;

/**
 * {@code grad4j gradcheck}: checks the analytic gradients of a small tanh MLP with softmax
 * cross-entropy against central differences, parameter by parameter, in FLOAT64.
 */
@Command(name = "gradcheck", description = "Numerically check the gradients of a small MLP, per parameter.")
final class GradCheckCommand implements Callable<Integer> {
    @Option(names = "--backend", description = "cpu, cuda or auto")
    String backend;

    @Option(names = "--seed", defaultValue = "7", description = "random seed (default ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() {
        Grad4jCli.selectBackend(backend);
        int batch = 4, in = 6, hidden = 5, classes = 3;
        Tensor x = Tensor.randn(DType.FLOAT64, seed, batch, in);
        Tensor target = Tensor.rand(DType.FLOAT64, seed + 1, batch, classes).softmax(1);
        String[] names = {"layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"};
        Tensor[] params = {
                Tensor.randn(DType.FLOAT64, seed + 2, in, hidden).mul(0.5),
                Tensor.randn(DType.FLOAT64, seed + 3, hidden).mul(0.1),
                Tensor.randn(DType.FLOAT64, seed + 4, hidden, classes).mul(0.5),
                Tensor.randn(DType.FLOAT64, seed + 5, classes).mul(0.1)};
        System.out.println("gradcheck on " + Backends.current().name()
                + ": tanh MLP " + in + "-" + hidden + "-" + classes + ", soft-target cross-entropy, batch " + batch);
        System.out.printf("%-14s %-8s %12s %12s  %s%n", "parameter", "shape", "max abs err", "max rel err", "result");
        boolean all = true;
        for (int p = 0; p < params.length; p++) {
            int which = p;
            Function<Tensor[], Tensor> loss = args -> {
                Tensor[] w = params.clone();
                w[which] = args[0];
                Tensor logits = x.matmul(w[0]).add(w[1]).tanh().matmul(w[2]).add(w[3]);
                return logits.logSoftmax(1).mul(target).sum().neg().div(batch);
            };
            GradCheck.Result r = GradCheck.check(loss, params[p]);
            all &= r.passed();
            System.out.printf("%-14s %-8s %12.3e %12.3e  %s%n", names[p], java.util.Arrays.toString(params[p].shape()),
                    r.maxAbsError(), r.maxRelError(), r.passed() ? "pass" : "FAIL: " + r.report());
        }
        System.out.println(all ? "all gradients match" : "gradient mismatch");
        return all ? 0 : 1;
    }
}
