package io.grad4j.nn;

import io.grad4j.DType;
import io.grad4j.Tensor;

import java.util.List;

/**
 * y = x W + b with W of shape [in, out] and b of shape [out]. Initialised as PyTorch's
 * nn.Linear: W and b uniform in [-1/sqrt(in), 1/sqrt(in)] (kaiming-uniform with a = sqrt(5)),
 * drawn from the seed so every backend starts from the same numbers.
 */
public final class Linear implements Module {
    private final Tensor weight;
    private final Tensor bias;

    public Linear(int in, int out, long seed) {
        this(in, out, seed, DType.FLOAT32);
    }

    public Linear(int in, int out, long seed, DType dtype) {
        if (in <= 0 || out <= 0) {
            throw new IllegalArgumentException("Linear needs in > 0 and out > 0, got in=" + in + " out=" + out);
        }
        double bound = 1.0 / Math.sqrt(in);
        this.weight = uniform(dtype, seed, bound, in, out).requiresGrad(true);
        this.bias = uniform(dtype, seed ^ 0x5DEECE66DL, bound, out).requiresGrad(true);
    }

    /** U(-bound, bound), closing the intermediates at once (on a GPU they would wait for the GC). */
    private static Tensor uniform(DType dtype, long seed, double bound, int... shape) {
        try (Tensor u = Tensor.rand(dtype, seed, shape); Tensor scaled = u.mul(2 * bound)) {
            return scaled.sub(bound);
        }
    }

    public Tensor weight() {
        return weight;
    }

    public Tensor bias() {
        return bias;
    }

    @Override
    public Tensor forward(Tensor x) {
        int[] s = x.shape();
        if (s.length == 0 || s[s.length - 1] != weight.shape()[0]) {
            throw new IllegalArgumentException("Linear(" + weight.shape()[0] + " -> " + weight.shape()[1]
                    + "): input's last axis must be " + weight.shape()[0] + ", got shape " + java.util.Arrays.toString(s));
        }
        return x.matmulAdd(weight, bias); // the bias added as the product is written: one backend call
    }

    @Override
    public List<Tensor> parameters() {
        return List.of(weight, bias);
    }
}
