package io.grad4j.nn;

import io.grad4j.DType;
import io.grad4j.Tensor;

import java.util.List;
import java.util.Map;

/**
 * y = x W^T + b with W of shape [out, in] and b of shape [out], PyTorch's nn.Linear in layout
 * and names, so a state dict moves between the two as it is. W^T is a view: the product reaches
 * the backend as one GEMM with a transpose flag (and the bias added where it is written), and
 * W's gradient is computed directly in W's layout, so the layout costs no copy either way.
 *
 * <p>Initialised as PyTorch's nn.Linear: W and b uniform in [-1/sqrt(in), 1/sqrt(in)]
 * (kaiming-uniform with a = sqrt(5)), drawn from the seed so every backend starts from the same
 * numbers. W's values are those the layer drew when it stored W as [in, out], transposed, so a seed
 * gives the same network as it always did.
 */
public final class Linear implements Module {
    private final Tensor weight;
    /** Null for a layer without bias. */
    private final Tensor bias;

    public Linear(int in, int out, long seed) {
        this(in, out, seed, true, DType.FLOAT32);
    }

    public Linear(int in, int out, long seed, DType dtype) {
        this(in, out, seed, true, dtype);
    }

    /** With {@code bias} false the layer is y = x W^T (PyTorch's {@code bias=False}); W draws the same numbers. */
    public Linear(int in, int out, long seed, boolean bias) {
        this(in, out, seed, bias, DType.FLOAT32);
    }

    public Linear(int in, int out, long seed, boolean bias, DType dtype) {
        if (in <= 0 || out <= 0) {
            throw new IllegalArgumentException("Linear needs in > 0 and out > 0, got in=" + in + " out=" + out);
        }
        double bound = 1.0 / Math.sqrt(in);
        try (Tensor drawn = uniform(dtype, seed, bound, in, out)) { // [in, out]: the numbers a seed always gave
            this.weight = drawn.transpose().contiguous().requiresGrad(true);
        }
        this.bias = bias ? uniform(dtype, seed ^ 0x5DEECE66DL, bound, out).requiresGrad(true) : null;
    }

    /** U(-bound, bound), closing the intermediates at once (on a GPU they would wait for the GC). */
    static Tensor uniform(DType dtype, long seed, double bound, int... shape) {
        try (Tensor u = Tensor.rand(dtype, seed, shape); Tensor scaled = u.mul(2 * bound)) {
            return scaled.sub(bound);
        }
    }

    /** [out], or null for a layer made without bias. */
    public Tensor bias() {
        return bias;
    }

    /** [out, in]. */
    public Tensor weight() {
        return weight;
    }

    @Override
    public Tensor forward(Tensor x) {
        int[] s = x.shape();
        int in = weight.shape()[1];
        if (s.length == 0 || s[s.length - 1] != in) {
            throw new IllegalArgumentException("Linear(" + in + " -> " + weight.shape()[0]
                    + "): input's last axis must be " + in + ", got shape " + java.util.Arrays.toString(s));
        }
        // W^T is a view (no copy); the bias is added as the product is written: one backend call
        return bias == null ? x.matmul(weight.transpose()) : x.matmulAdd(weight.transpose(), bias);
    }

    @Override
    public List<Tensor> parameters() {
        return bias == null ? List.of(weight) : List.of(weight, bias);
    }

    /** "weight", and "bias" unless made without one (PyTorch's state_dict has none then). */
    @Override
    public Map<String, Tensor> localParameters() {
        return bias == null ? Map.of("weight", weight) : orderedMap("weight", weight, "bias", bias);
    }

    static Map<String, Tensor> orderedMap(String k1, Tensor v1, String k2, Tensor v2) {
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        return m;
    }
}
