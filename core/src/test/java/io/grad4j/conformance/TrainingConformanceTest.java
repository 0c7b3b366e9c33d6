package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;
import io.grad4j.nn.Tanh;
import io.grad4j.optim.SGD;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Layers, losses and SGD on a backend, against hand-computed values. */
public abstract class TrainingConformanceTest extends BackendTestBase {

    @Test
    void plainSgdStepIsThetaMinusLrTimesGrad() {
        Tensor p = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        SGD sgd = new SGD(List.of(p), 0.1);
        p.mul(p).sum().backward(); // grad = 2p
        sgd.step();
        assertArrayEquals(new double[] {0.8, 1.6}, p.toDoubleArray(), 1e-12);
    }

    @Test
    void momentumAndWeightDecayFollowPyTorch() {
        Tensor p = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        SGD sgd = new SGD(List.of(p), 0.1, 0.9, 0.01);
        p.mul(p).sum().backward();
        sgd.step(); // g = 2 + 0.01 = 2.01; v = 2.01; p = 1 - 0.201
        assertEquals(0.799, p.toDoubleArray()[0], 1e-12);
        sgd.zeroGrad();
        p.mul(p).sum().backward();
        sgd.step(); // g = 1.598 + 0.00799; v = 0.9 * 2.01 + g; p -= 0.1 v
        assertEquals(0.799 - 0.1 * (0.9 * 2.01 + 1.598 + 0.00799), p.toDoubleArray()[0], 1e-12);
    }

    @Test
    void crossEntropyIsMeanNegativeLogLikelihood() {
        Tensor logits = Tensor.of(new double[] {0, 0, 1, 2, 3, 4}, 2, 3).requiresGrad(true);
        // row 0: logits 0,0,1 label 2; row 1: logits 2,3,4 label 0
        Tensor loss = Losses.crossEntropy(logits, new int[] {2, 0});
        double r0 = -(1 - Math.log(2 + Math.E));
        double r1 = -(2 - Math.log(Math.exp(2) + Math.exp(3) + Math.exp(4)));
        assertEquals((r0 + r1) / 2, loss.item(), 1e-12);
        loss.backward();
        double[] g = logits.grad().toDoubleArray();
        double z0 = 2 + Math.E;
        assertEquals((1 / z0) / 2, g[0], 1e-12);
        assertEquals((Math.E / z0 - 1) / 2, g[2], 1e-12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Losses.crossEntropy(logits, new int[] {3, 0}));
        assertTrue(e.getMessage().contains("label 3"), e.getMessage());
        Tensor big = Tensor.of(new float[] {1000f, -1000f}, 1, 2);
        assertEquals(0.0, Losses.crossEntropy(big, new int[] {0}).item(), 1e-6);
    }

    @Test
    void mseIsMeanSquaredError() {
        Tensor a = Tensor.of(new double[] {1, 2, 3}, 3);
        Tensor b = Tensor.of(new double[] {1, 0, 6}, 3);
        assertEquals((0 + 4 + 9) / 3.0, Losses.mse(a, b).item(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Losses.mse(a, Tensor.zeros(DType.FLOAT64, 2)));
    }

    @Test
    void linearIsXWPlusBWithPyTorchInitialisation() {
        Linear layer = new Linear(16, 4, 3);
        assertArrayEquals(new int[] {16, 4}, layer.weight().shape());
        assertArrayEquals(new int[] {4}, layer.bias().shape());
        double bound = 1 / Math.sqrt(16);
        for (double w : layer.weight().toDoubleArray()) {
            assertTrue(Math.abs(w) <= bound, "weight " + w + " outside +-" + bound);
        }
        Tensor x = Tensor.randn(DType.FLOAT32, 4, 5, 16);
        Tensor expected = x.matmul(layer.weight()).add(layer.bias());
        assertArrayEquals(expected.toDoubleArray(), layer.forward(x).toDoubleArray(), 1e-6);
        assertThrows(IllegalArgumentException.class, () -> layer.forward(Tensor.zeros(DType.FLOAT32, 5, 15)));
    }

    @Test
    void aTinyNetworkOverfitsAFixedBatch() {
        Sequential net = new Sequential(new Linear(2, 16, 1), new Tanh(), new Linear(16, 16, 2), new ReLU(), new Linear(16, 2, 3));
        Tensor x = Tensor.of(new float[] {0, 0, 0, 1, 1, 0, 1, 1}, 4, 2);
        int[] xor = {0, 1, 1, 0};
        SGD sgd = new SGD(net.parameters(), 0.2, 0.9, 0.0);
        double loss = Double.NaN;
        for (int step = 0; step < 400; step++) {
            sgd.zeroGrad();
            Tensor l = Losses.crossEntropy(net.forward(x), xor);
            l.backward();
            sgd.step();
            loss = l.item();
        }
        assertTrue(loss < 0.01, "XOR loss after 400 steps: " + loss);
    }
}
