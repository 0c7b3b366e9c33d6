package io.grad4j.nn;

import io.grad4j.DType;
import io.grad4j.Tensor;

import java.util.List;
import java.util.Map;

/**
 * A 2-D convolution of {@code in} to {@code out} channels with a square kernel, PyTorch's
 * nn.Conv2d(in, out, kernel, stride, padding) in names and layouts: weight [out, in, k, k] and
 * bias [out], both drawn U(-1/sqrt(in k k), 1/sqrt(in k k)) from the seed as PyTorch's default
 * (kaiming-uniform with a = sqrt 5) draws them.
 */
public final class Conv2d implements Module {
    private final Tensor weight;
    private final Tensor bias;
    private final int stride;
    private final int padding;

    public Conv2d(int in, int out, int kernel, int stride, int padding, long seed) {
        this(in, out, kernel, stride, padding, seed, DType.FLOAT32);
    }

    public Conv2d(int in, int out, int kernel, int stride, int padding, long seed, DType dtype) {
        if (in <= 0 || out <= 0 || kernel <= 0 || stride <= 0 || padding < 0) {
            throw new IllegalArgumentException("Conv2d needs in, out, kernel, stride > 0 and padding >= 0, got in=" + in
                    + " out=" + out + " kernel=" + kernel + " stride=" + stride + " padding=" + padding);
        }
        double bound = 1.0 / Math.sqrt((double) in * kernel * kernel);
        this.weight = Linear.uniform(dtype, seed, bound, out, in, kernel, kernel).requiresGrad(true);
        this.bias = Linear.uniform(dtype, seed ^ 0x5DEECE66DL, bound, out).requiresGrad(true);
        this.stride = stride;
        this.padding = padding;
    }

    /** [out, in, k, k]. */
    public Tensor weight() {
        return weight;
    }

    /** [out]. */
    public Tensor bias() {
        return bias;
    }

    @Override
    public Tensor forward(Tensor x) {
        return Functional.conv2d(x, weight, bias, stride, padding);
    }

    @Override
    public List<Tensor> parameters() {
        return List.of(weight, bias);
    }

    @Override
    public Map<String, Tensor> localParameters() {
        return Linear.orderedMap("weight", weight, "bias", bias);
    }
}
