package io.grad4j.optim;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;

import java.util.List;

/** Operations on a model's gradients, as torch.nn.utils provides them. */
public final class Optimizers {
    private Optimizers() {
    }

    /**
     * Scales every gradient by min(1, maxNorm / (total + 1e-6)), total the L2 norm of all the
     * gradients together (PyTorch's clip_grad_norm_), and returns total, rank 0, before clipping.
     * All on the device: the norm is never read by the host, so a GPU step does not wait for it.
     * Parameters without a gradient are skipped; with none at all the norm is 0.
     */
    public static Tensor clipGradNorm(List<Tensor> params, double maxNorm) {
        if (params == null) {
            throw new IllegalArgumentException("clipGradNorm: params is null");
        }
        if (!(maxNorm > 0) || Double.isInfinite(maxNorm)) {
            throw new IllegalArgumentException("clipGradNorm: maxNorm must be finite and > 0, got " + maxNorm);
        }
        try (NoGrad ignored = Autograd.noGrad()) {
            Tensor sumOfSquares = null; // FLOAT64, rank 0, on the parameters' backend
            DType dtype = null;
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (g == null) {
                    continue;
                }
                Tensor s = g.mul(g).sum().to(DType.FLOAT64); // each gradient in its own dtype, as PyTorch's norms
                if (sumOfSquares != null && sumOfSquares.backend() != s.backend()) {
                    throw new IllegalArgumentException("clipGradNorm: gradients on " + sumOfSquares.backend().name()
                            + " and " + s.backend().name() + "; all parameters must be on one backend");
                }
                sumOfSquares = sumOfSquares == null ? s : sumOfSquares.add(s);
                dtype = dtype == null ? g.dtype() : dtype;
            }
            if (sumOfSquares == null) {
                return Tensor.zeros(DType.FLOAT32);
            }
            Tensor total = sumOfSquares.sqrt();
            Tensor scale = total.add(1e-6).pow(-1).mul(maxNorm).clamp(Double.NEGATIVE_INFINITY, 1.0);
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (g != null) {
                    g.assign(g.mul(scale.to(g.dtype())));
                }
            }
            return total.to(dtype);
        }
    }
}
