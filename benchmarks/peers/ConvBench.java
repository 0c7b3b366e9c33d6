import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.autograd.Autograd;
import io.grad4j.nn.Functional;

import java.util.Arrays;

/**
 * grad4j's side of conv_bench.py: the same convolutions on the current backend, forward (no
 * history) and forward + backward (sum of the output), each the median of --reps timings of
 * --calls calls after warm-up, printed as `conv <name> fwd_us=.. fwdbwd_us=..`.
 *
 *   java --enable-native-access=ALL-UNNAMED -cp benchmarks/target/benchmarks.jar benchmarks/peers/ConvBench.java
 */
public class ConvBench {
    record Case(String name, int n, int c, int h, int w, int o, int k, int stride, int padding) {
    }

    static final Case[] CASES = {
        new Case("cnn1 64x1x28x28->32 k3 p1", 64, 1, 28, 28, 32, 3, 1, 1),
        new Case("cnn2 64x32x14x14->64 k3 p1", 64, 32, 14, 14, 64, 3, 1, 1),
        new Case("c64 32x64x28x28->64 k3 p1", 32, 64, 28, 28, 64, 3, 1, 1),
    };

    interface Call {
        void run();
    }

    static double medianMicros(Call call, int reps, int calls) {
        for (int i = 0; i < 3; i++) {
            call.run();
        }
        double[] t = new double[reps];
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                call.run();
            }
            t[r] = (System.nanoTime() - t0) / 1e3 / calls;
        }
        Arrays.sort(t);
        return t[reps / 2];
    }

    public static void main(String[] args) {
        int reps = 7;
        int calls = 5;
        for (Case c : CASES) {
            Tensor x = Tensor.randn(DType.FLOAT32, 1, c.n, c.c, c.h, c.w).persistent();
            Tensor weight = Tensor.randn(DType.FLOAT32, 2, c.o, c.c, c.k, c.k).requiresGrad(true).persistent();
            Tensor bias = Tensor.randn(DType.FLOAT32, 3, c.o).requiresGrad(true).persistent();
            Tensor xg = Tensor.randn(DType.FLOAT32, 1, c.n, c.c, c.h, c.w).requiresGrad(true).persistent();
            double fwd = medianMicros(() -> {
                try (TensorScope s = TensorScope.open(); var ng = Autograd.noGrad()) {
                    Functional.conv2d(x, weight, bias, c.stride, c.padding).storageOffset();
                }
            }, reps, calls);
            double fwdbwd = medianMicros(() -> {
                try (TensorScope s = TensorScope.open()) {
                    xg.zeroGrad();
                    weight.zeroGrad();
                    bias.zeroGrad();
                    Functional.conv2d(xg, weight, bias, c.stride, c.padding).sum().backward();
                    weight.grad().toFloatArray(); // waits for the work on an asynchronous backend
                }
            }, reps, calls);
            System.out.printf("conv %s fwd_us=%.0f fwdbwd_us=%.0f%n", c.name, fwd, fwdbwd);
        }
    }
}
