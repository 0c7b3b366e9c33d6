package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.CustomFunction;
import io.grad4j.autograd.GradCheck;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gradients of gradients: {@code Autograd.grad(output, inputs, createGraph)} runs each operation's
 * differentiable gradient rule, so its result can be differentiated again, and
 * {@code Autograd.hvp} is reverse mode over that. Checked against closed forms, against central
 * differences of gradients, and by gradcheck of every operation's gradient function (which
 * differentiates every rule once more).
 */
public abstract class HigherOrderConformanceTest extends BackendTestBase {

    /** grad f(x) as a differentiable function of x (also where the caller turned history off, as gradcheck's numeric pass does). */
    private static Tensor gradient(Function<Tensor, Tensor> f, Tensor x) {
        try (io.grad4j.autograd.NoGrad ignored = Autograd.enableGrad()) {
            Tensor leaf = x.requiresGrad() ? x : x.detach().requiresGrad(true);
            Tensor g = Autograd.grad(f.apply(leaf), new Tensor[] {leaf}, true)[0];
            return leaf == x ? g : g.detach();
        }
    }

    private static void assertClose(double[] expected, double[] actual, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-10 + rtol * Math.abs(expected[i]), what + ": element " + i);
        }
    }

    @Test
    void hessianVectorProductsMatchClosedForms() {
        Tensor x = Tensor.randn(DType.FLOAT64, 1, 6);
        Tensor v = Tensor.randn(DType.FLOAT64, 2, 6);
        double[] xs = x.toDoubleArray();
        double[] vs = v.toDoubleArray();

        double[] cubic = new double[6]; // f = sum x^3: H = diag(6x)
        double[] tanh = new double[6];  // f = sum tanh x: H = diag(-2 tanh x (1 - tanh^2 x))
        for (int i = 0; i < 6; i++) {
            cubic[i] = 6 * xs[i] * vs[i];
            double t = Math.tanh(xs[i]);
            tanh[i] = -2 * t * (1 - t * t) * vs[i];
        }
        assertClose(cubic, Autograd.hvp(t -> t.pow(3).sum(), x, v).toDoubleArray(), 1e-12, "sum x^3");
        assertClose(tanh, Autograd.hvp(t -> t.tanh().sum(), x, v).toDoubleArray(), 1e-12, "sum tanh x");

        Tensor a = Tensor.randn(DType.FLOAT64, 3, 6, 6); // f = x^T A x: H = A + A^T
        double[] expected = a.add(a.transpose()).matmul(v).toDoubleArray();
        assertClose(expected, Autograd.hvp(t -> t.matmul(a.matmul(t)), x, v).toDoubleArray(), 1e-12, "x^T A x");
        assertArrayEquals(new double[6], Autograd.hvp(t -> t.mul(3.0).sum(), x, v).toDoubleArray(), "a linear f");
    }

    /** A network-shaped scalar function: its HVP against (grad f(x + hv) - grad f(x - hv)) / 2h. */
    @Test
    void hessianVectorProductsMatchCentralDifferencesOfGradients() {
        Tensor w = Tensor.randn(DType.FLOAT64, 4, 5, 6);
        Tensor b = Tensor.randn(DType.FLOAT64, 5, 5);
        int[] labels = {3};
        Function<Tensor, Tensor> f = x -> {
            Tensor hidden = x.reshape(1, 6).matmulAdd(w.transpose(), b).tanh();          // [1, 5]
            Tensor logits = hidden.mul(hidden.sigmoid()).div(hidden.pow(2).add(1.5));
            return logits.crossEntropy(labels).add(x.exp().mean()).add(logits.softmax(1).max(1, false).sum())
                    .add(x.narrow(0, 1, 3).abs().sum().mul(0.1)).add(x.log().neg().relu().sum());
        };
        Tensor x = Tensor.rand(DType.FLOAT64, 6, 6).add(0.5); // positive, so log is defined
        Tensor v = Tensor.randn(DType.FLOAT64, 7, 6);
        double h = 1e-5;
        Tensor plus = x.add(v.mul(h)).requiresGrad(true);
        Tensor minus = x.sub(v.mul(h)).requiresGrad(true);
        Tensor numeric = Autograd.grad(f.apply(plus), plus)[0].sub(Autograd.grad(f.apply(minus), minus)[0]).div(2 * h);
        assertClose(numeric.toDoubleArray(), Autograd.hvp(f, x, v).toDoubleArray(), 1e-5, "network f");

        // the differentiable rules give the fused VJPs' first derivatives
        Tensor leaf = x.detach().requiresGrad(true);
        assertClose(Autograd.grad(f.apply(leaf), leaf)[0].toDoubleArray(),
                gradient(f, leaf).toDoubleArray(), 1e-12, "first derivative, createGraph or not");
    }

    /** gradcheck of x -> grad f(x): the rules' own derivatives, operation by operation, against central differences. */
    @Test
    void everyOperationsGradientCanBeDifferentiatedAgain() {
        Tensor m = Tensor.randn(DType.FLOAT64, 11, 3, 4);
        Tensor positive = Tensor.rand(DType.FLOAT64, 12, 3, 4).add(0.5);
        Tensor w = Tensor.randn(DType.FLOAT64, 13, 4, 5);
        Tensor batch = Tensor.randn(DType.FLOAT64, 14, 2, 3, 4);
        Tensor row = Tensor.randn(DType.FLOAT64, 15, 4);
        Tensor bias = Tensor.randn(DType.FLOAT64, 16, 5);
        Map<String, Function<Tensor, Tensor>> ops = new LinkedHashMap<>();
        ops.put("exp", t -> t.exp().sum());
        ops.put("log", t -> t.add(3.0).log().sum());
        ops.put("sqrt", t -> t.pow(2).add(1.0).sqrt().sum());
        ops.put("tanh", t -> t.tanh().sum());
        ops.put("sigmoid", t -> t.sigmoid().sum());
        ops.put("pow", t -> t.pow(3).sum());
        ops.put("abs and relu", t -> t.abs().mul(t).add(t.relu().mul(t)).sum());
        ops.put("neg, scalars", t -> t.neg().mul(2.0).add(1.0).div(3.0).sub(0.5).pow(2).sum());
        ops.put("add and sub, broadcast", t -> t.add(row).mul(t.sub(t.sum(0, true))).sum());
        ops.put("mul and div, broadcast", t -> t.mul(t).div(t.pow(2).add(row.pow(2)).add(1.0)).sum());
        ops.put("matmul", t -> t.matmul(w).pow(2).sum());
        ops.put("matmul, both sides", t -> t.matmul(t.transpose()).pow(2).sum());
        ops.put("batched matmul, shared weight", t -> batch.mul(t).matmul(w).tanh().sum());
        ops.put("matmulAdd", t -> t.matmulAdd(w, bias).pow(2).sum());
        ops.put("sum, mean, max", t -> t.pow(2).sum(1, false).mul(t.mean(1, false)).add(t.pow(3).max(0, false).sum()).sum());
        ops.put("softmax", t -> t.softmax(1).pow(2).sum());
        ops.put("logSoftmax", t -> t.logSoftmax(0).mul(t).sum());
        ops.put("crossEntropy", t -> t.mul(t).crossEntropy(new int[] {1, 0, 3}));
        ops.put("crossEntropyPerRow", t -> t.mul(t).crossEntropyPerRow(new int[] {2, 2, 0}).pow(2).sum());
        ops.put("views", t -> t.transpose().narrow(0, 1, 2).unsqueeze(1).expand(2, 3, 3).permute(2, 0, 1)
                .select(1, 1).squeeze(0).reshape(9).pow(3).sum());
        ops.put("dropout", t -> t.pow(2).dropout(0.3, 42).pow(2).sum());
        for (Map.Entry<String, Function<Tensor, Tensor>> op : ops.entrySet()) {
            Tensor input = op.getKey().startsWith("log") && !op.getKey().equals("logSoftmax") ? positive : m;
            GradCheck.Result r = GradCheck.check(in -> gradient(op.getValue(), in[0]), input);
            assertTrue(r.passed(), op.getKey() + ": " + r.report());
        }
    }

    /** enableGrad turns history back on inside noGrad and restores it; hvp works from inside noGrad. */
    @Test
    void enableGradScopesNestInsideNoGrad() {
        Tensor x = Tensor.randn(DType.FLOAT64, 31, 3);
        try (io.grad4j.autograd.NoGrad outer = Autograd.noGrad()) {
            assertTrue(!io.grad4j.autograd.GradMode.isEnabled());
            try (io.grad4j.autograd.NoGrad inner = Autograd.enableGrad()) {
                assertTrue(io.grad4j.autograd.GradMode.isEnabled());
                assertTrue(x.detach().requiresGrad(true).exp().requiresGrad());
            }
            assertTrue(!io.grad4j.autograd.GradMode.isEnabled());
            assertClose(x.mul(6.0).toDoubleArray(),
                    Autograd.hvp(t -> t.pow(3).sum(), x, Tensor.ones(DType.FLOAT64, 3)).toDoubleArray(), 1e-12, "inside noGrad");
        }
        assertTrue(io.grad4j.autograd.GradMode.isEnabled());
    }

    /** A user's operation: its backward, written in tensor operations, is its own differentiable rule. */
    @Test
    void customFunctionsDifferentiateTwice() {
        CustomFunction cube = new CustomFunction() {
            @Override
            public Tensor forward(Tensor... inputs) {
                return inputs[0].pow(3);
            }

            @Override
            public Tensor[] backward(Tensor[] inputs, Tensor output, Tensor gradOutput) {
                return new Tensor[] {gradOutput.mul(inputs[0].pow(2).mul(3.0))};
            }
        };
        Tensor x = Tensor.randn(DType.FLOAT64, 21, 4);
        Tensor v = Tensor.ones(DType.FLOAT64, 4);
        double[] expected = x.mul(6.0).toDoubleArray();
        assertClose(expected, Autograd.hvp(t -> Autograd.apply(cube, t).sum(), x, v).toDoubleArray(), 1e-12, "cube");
    }
}
