package io.grad4j.nn;

import io.grad4j.DType;
import io.grad4j.Tensor;

import java.util.List;
import java.util.Map;

/**
 * Layer normalisation over the last axis of size {@code dim} (eps 1e-5), with a learned scale
 * ("weight", ones) and, unless made without, shift ("bias", zeros): PyTorch's nn.LayerNorm(dim, bias=...).
 */
public final class LayerNorm implements Module {
    public static final double EPS = 1e-5;
    private final Tensor weight;
    private final Tensor bias;

    public LayerNorm(int dim, boolean bias) {
        this(dim, bias, DType.FLOAT32);
    }

    public LayerNorm(int dim, boolean bias, DType dtype) {
        if (dim <= 0) {
            throw new IllegalArgumentException("LayerNorm needs dim > 0, got " + dim);
        }
        this.weight = Tensor.ones(dtype, dim).requiresGrad(true);
        this.bias = bias ? Tensor.zeros(dtype, dim).requiresGrad(true) : null;
    }

    public Tensor weight() {
        return weight;
    }

    /** Null when made without bias. */
    public Tensor bias() {
        return bias;
    }

    @Override
    public Tensor forward(Tensor x) {
        return Functional.layerNorm(x, new int[] {weight.shape()[0]}, weight, bias, EPS);
    }

    @Override
    public List<Tensor> parameters() {
        return bias == null ? List.of(weight) : List.of(weight, bias);
    }

    @Override
    public Map<String, Tensor> localParameters() {
        return bias == null ? Map.of("weight", weight) : Linear.orderedMap("weight", weight, "bias", bias);
    }
}
