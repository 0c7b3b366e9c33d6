package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.nn.Functional;
import io.grad4j.nn.Losses;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The elementwise functions and functional layers of real models on every backend: erf, sin, cos,
 * GELU (both forms), clamp, layer norm, conv2d (stride, padding, dilation, groups), max and average
 * pooling (odd sizes), batch norm (training and evaluation, running statistics), attention (causal
 * and not) and integer-label cross-entropy, against PyTorch's float64 values and gradients, by
 * gradcheck in reverse mode with forward mode equal to it, and on bad input.
 */
public abstract class LayersConformanceTest extends BackendTestBase {

    @Test
    void matchesPyTorch() throws IOException {
        TorchFixtures.check("/io/grad4j/fixtures/layers_torch.safetensors", LayersConformanceTest::evaluate, 21);
    }

    private static Tensor[] evaluate(Map<String, String> p, Map<String, Tensor> in) {
        Tensor x = in.get("x");
        Tensor y = switch (p.get("op")) {
            case "gelu" -> x.gelu();
            case "geluTanh" -> x.geluTanh();
            case "erf" -> x.erf();
            case "sin" -> x.sin();
            case "cos" -> x.cos();
            case "clamp" -> x.clamp(Double.parseDouble(p.get("min")), Double.parseDouble(p.get("max")));
            case "layerNorm" -> Functional.layerNorm(x, ints(p.get("normalizedShape")), in.get("weight"), in.get("bias"),
                    Double.parseDouble(p.get("eps")));
            case "conv2d" -> Functional.conv2d(x, in.get("weight"), in.get("bias"), ints(p.get("stride")),
                    ints(p.get("padding")), ints(p.get("dilation")), Integer.parseInt(p.get("groups")));
            case "maxPool2d" -> Functional.maxPool2d(x, Integer.parseInt(p.get("kernel")), Integer.parseInt(p.get("stride")));
            case "avgPool2d" -> Functional.avgPool2d(x, Integer.parseInt(p.get("kernel")), Integer.parseInt(p.get("stride")));
            case "batchNorm" -> Functional.batchNorm(x, in.get("running_mean"), in.get("running_var"), in.get("weight"),
                    in.get("bias"), Boolean.parseBoolean(p.get("training")), Double.parseDouble(p.get("momentum")),
                    Double.parseDouble(p.get("eps")));
            case "attention" -> Functional.scaledDotProductAttention(in.get("q"), in.get("k"), in.get("v"),
                    Boolean.parseBoolean(p.get("causal")));
            case "crossEntropy" -> Losses.crossEntropy(in.get("logits"), in.get("labels"));
            default -> throw new AssertionError("the fixtures name an op this test does not know: " + p.get("op"));
        };
        return new Tensor[] {y};
    }

    private static Tensor randn(long seed, int... shape) {
        return Tensor.randn(DType.FLOAT64, seed, shape);
    }

    @Test
    void gradcheckInBothModes() {
        checkBothModes("gelu", Tensor::gelu, randn(1, 2, 3));
        checkBothModes("geluTanh", Tensor::geluTanh, randn(2, 2, 3));
        checkBothModes("erf", Tensor::erf, randn(3, 2, 3));
        checkBothModes("sin", t -> t.sin().mul(t.cos()), randn(4, 2, 3));
        checkBothModes("clamp", t -> t.clamp(-0.5, 0.5), randn(5, 2, 3));
        Tensor w = randn(6, 4);
        Tensor b = randn(7, 4);
        checkBothModes("layerNorm (x)", t -> Functional.layerNorm(t, new int[] {4}, w, b, 1e-5), randn(8, 2, 4));
        checkBothModes("layerNorm (weight)", t -> Functional.layerNorm(randn(8, 2, 4), new int[] {4}, t, b, 1e-5), randn(9, 4));
        Tensor kernel = randn(10, 2, 2, 2, 3);
        checkBothModes("conv2d (x)", t -> Functional.conv2d(t, kernel, null, new int[] {2, 1}, new int[] {1, 1},
                new int[] {1, 2}, 1), randn(11, 1, 2, 5, 5));
        Tensor image = randn(12, 1, 2, 4, 4);
        checkBothModes("conv2d (weight, groups)", t -> Functional.conv2d(image, t, null, new int[] {1, 1}, new int[] {0, 0},
                new int[] {1, 1}, 2), randn(13, 4, 1, 2, 2));
        checkBothModes("maxPool2d", t -> Functional.maxPool2d(t, 2, 2), randn(14, 1, 2, 5, 3));
        checkBothModes("maxPool2d overlapping", t -> Functional.maxPool2d(t, 3, 1), randn(15, 1, 1, 4, 4));
        checkBothModes("avgPool2d", t -> Functional.avgPool2d(t, 3, 2), randn(16, 1, 2, 5, 5));
        checkBothModes("unfold", t -> t.unfold(1, 3, 2).mul(t.unfold(1, 3, 2)), randn(17, 2, 7));
        checkBothModes("im2col (overlapping)", t -> t.im2col(2, 3, new int[] {1, 2}, new int[] {1, 0}, new int[] {2, 1}).pow(2),
                randn(24, 1, 2, 5, 7));
        checkBothModes("im2col (disjoint)", t -> t.im2col(2, 2, new int[] {2, 3}, new int[] {0, 1}, new int[] {1, 1}).pow(2),
                randn(25, 2, 1, 4, 5));
        checkBothModes("batchNorm (training)", t -> Functional.batchNorm(t, null, null, null, null, true, 0.1, 1e-5),
                randn(18, 3, 2, 2));
        Tensor k = randn(19, 2, 3, 2);
        Tensor v = randn(20, 2, 3, 2);
        checkBothModes("attention (q, causal)", q -> Functional.scaledDotProductAttention(q, k, v, true), randn(21, 2, 3, 2));
        Tensor q = randn(22, 2, 3, 2);
        checkBothModes("attention (k)", kk -> Functional.scaledDotProductAttention(q, kk, v, false), randn(23, 2, 3, 2));
    }

    @Test
    void secondDerivativesMatchClosedForms() {
        // d2/dx2 sin x = -sin x, d2/dx2 erf x = -2x * 2/sqrt(pi) e^(-x^2)
        Tensor x = Tensor.of(new double[] {-1.2, 0.3, 2.0}, 3);
        Tensor ones = Tensor.full(DType.FLOAT64, 1, 3);
        double[] hs = Autograd.hvp(t -> t.sin().sum(), x, ones).toDoubleArray();
        double[] he = Autograd.hvp(t -> t.erf().sum(), x, ones).toDoubleArray();
        double[] hg = Autograd.hvp(t -> t.gelu().sum(), x, ones).toDoubleArray();
        for (int i = 0; i < 3; i++) {
            double xi = x.toDoubleArray()[i];
            assertEquals(-Math.sin(xi), hs[i], 1e-12);
            assertEquals(-4 * xi / Math.sqrt(Math.PI) * Math.exp(-xi * xi), he[i], 1e-12);
            // gelu'' = 2 phi(x) - x^2 phi(x)
            double phi = Math.exp(-xi * xi / 2) / Math.sqrt(2 * Math.PI);
            assertEquals(2 * phi - xi * xi * phi, hg[i], 1e-12);
        }
    }

    @Test
    void badInputIsRefusedNamingIt() {
        Tensor x = Tensor.randn(DType.FLOAT32, 1, 2, 3, 5, 5);
        Tensor w = Tensor.randn(DType.FLOAT32, 2, 4, 2, 3, 3); // weight axis 1 must be C = 3
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Functional.conv2d(x, w, null, 1, 1));
        assertTrue(e.getMessage().contains("groups"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Functional.conv2d(x, Tensor.randn(DType.FLOAT32, 3, 4, 3, 9, 9), null, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Functional.maxPool2d(x, 6, 1));
        assertThrows(IllegalArgumentException.class, () -> Functional.layerNorm(x, new int[] {4}, null, null, 1e-5));
        assertThrows(IllegalArgumentException.class, () -> x.clamp(1, 0));
        assertThrows(IllegalArgumentException.class, () -> Functional.batchNorm(x, null, null, null, null, false, 0.1, 1e-5));
        assertThrows(IllegalArgumentException.class, () -> x.unfold(2, 6, 1));
        assertThrows(IllegalArgumentException.class, () -> x.unfold(2, 2, 0));
        assertThrows(IllegalArgumentException.class, () -> x.unfold(2, 2, 1).assign(Tensor.zeros(DType.FLOAT32, 2, 3, 4, 5, 2)));
    }

    @Test
    void float32LayersAgreeWithFloat64() {
        Tensor x = Tensor.randn(DType.FLOAT64, 30, 2, 3, 9, 8);
        Tensor w = Tensor.randn(DType.FLOAT64, 31, 4, 3, 3, 3);
        Tensor b = Tensor.randn(DType.FLOAT64, 32, 4);
        double[] want = Functional.maxPool2d(Functional.conv2d(x, w, b, 1, 1).relu(), 2, 2).toDoubleArray();
        double[] got = Functional.maxPool2d(Functional.conv2d(x.to(DType.FLOAT32), w.to(DType.FLOAT32),
                b.to(DType.FLOAT32), 1, 1).relu(), 2, 2).toDoubleArray();
        assertArrayEquals(want, got, 1e-4);
    }
}
