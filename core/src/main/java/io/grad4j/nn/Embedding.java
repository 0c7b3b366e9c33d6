package io.grad4j.nn;

import io.grad4j.DType;
import io.grad4j.Tensor;

import java.util.List;
import java.util.Map;

/**
 * A lookup table of {@code num} vectors of {@code dim}: forward(indices) is the rows of the weight
 * [num, dim] at the INT32/INT64 indices, shape indices.shape + [dim] (PyTorch's nn.Embedding,
 * weight drawn N(0, 1) from the seed).
 */
public final class Embedding implements Module {
    private final Tensor weight;

    public Embedding(int num, int dim, long seed) {
        this(num, dim, seed, DType.FLOAT32);
    }

    public Embedding(int num, int dim, long seed, DType dtype) {
        if (num <= 0 || dim <= 0) {
            throw new IllegalArgumentException("Embedding needs num > 0 and dim > 0, got num=" + num + " dim=" + dim);
        }
        this.weight = Tensor.randn(dtype, seed, num, dim).requiresGrad(true);
    }

    /** [num, dim]. */
    public Tensor weight() {
        return weight;
    }

    @Override
    public Tensor forward(Tensor indices) {
        return Functional.embedding(indices, weight);
    }

    @Override
    public List<Tensor> parameters() {
        return List.of(weight);
    }

    @Override
    public Map<String, Tensor> localParameters() {
        return Map.of("weight", weight);
    }
}
