package org.example.consumer;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backends;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.optim.SGD;

/** What a first grad4j program looks like: fit y = 3x - 1 with one Linear layer and SGD. */
public final class FitLine {
    private FitLine() {
    }

    /** Trains for the given steps and returns {weight, bias, final loss}. */
    public static double[] fit(int steps) {
        double[] xs = new double[64];
        double[] ys = new double[64];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = -1 + 2.0 * i / (xs.length - 1);
            ys[i] = 3 * xs[i] - 1;
        }
        Tensor x = Tensor.of(xs, xs.length, 1);
        Tensor y = Tensor.of(ys, ys.length, 1);
        Linear line = new Linear(1, 1, 42, DType.FLOAT64);
        SGD sgd = new SGD(line.parameters(), 0.5);
        double loss = Double.NaN;
        for (int step = 0; step < steps; step++) {
            sgd.zeroGrad();
            Tensor l = Losses.mse(line.forward(x), y);
            l.backward();
            sgd.step();
            loss = l.item();
        }
        return new double[] {line.weight().item(), line.bias().item(), loss};
    }

    public static void main(String[] args) {
        double[] r = fit(200);
        System.out.printf("backend %s: y = %.4f x + %.4f (loss %.2e)%n", Backends.current().name(), r[0], r[1], r[2]);
    }
}
