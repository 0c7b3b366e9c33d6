package io.grad4j.nn;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backends;

import java.util.Arrays;

/** Layers as functions of their inputs and weights (PyTorch's {@code torch.nn.functional}), weights in PyTorch's layouts. */
public final class Functional {
    private Functional() {
    }

    /**
     * The rows of {@code weight} [num, dim] picked by {@code indices} (INT32 or INT64, any shape):
     * a tensor of shape indices.shape + [dim]. Its gradient sums the upstream rows of repeated
     * indices into their weight row, in a fixed order.
     */
    public static Tensor embedding(Tensor indices, Tensor weight) {
        if (indices == null || weight == null) {
            throw new IllegalArgumentException("embedding: indices and weight must not be null");
        }
        if (weight.rank() != 2) {
            throw new IllegalArgumentException("embedding: the weight must be [num, dim], got shape "
                    + Arrays.toString(weight.shape()));
        }
        int[] shape = Arrays.copyOf(indices.shape(), indices.rank() + 1);
        shape[indices.rank()] = weight.shape()[1];
        Tensor flat = indices.rank() == 1 ? indices : indices.reshape(-1);
        return weight.indexSelect(0, flat).reshape(shape);
    }

    /**
     * (x - mean) / sqrt(var + eps) over the trailing {@code normalizedShape} axes (biased variance),
     * then times weight and plus bias (each of normalizedShape, either may be null), as PyTorch's
     * layer_norm. Composed of differentiable operations.
     */
    public static Tensor layerNorm(Tensor x, int[] normalizedShape, Tensor weight, Tensor bias, double eps) {
        if (x == null || normalizedShape == null || normalizedShape.length == 0) {
            throw new IllegalArgumentException("layerNorm: x and a non-empty normalizedShape are needed");
        }
        int[] shape = x.shape();
        int k = normalizedShape.length;
        if (k > shape.length || !Arrays.equals(Arrays.copyOfRange(shape, shape.length - k, shape.length), normalizedShape)) {
            throw new IllegalArgumentException("layerNorm: normalizedShape " + Arrays.toString(normalizedShape)
                    + " must be the trailing axes of the input's shape " + Arrays.toString(shape));
        }
        if (!(eps >= 0)) {
            throw new IllegalArgumentException("layerNorm: eps must be >= 0, got " + eps);
        }
        requireShape("layerNorm weight", weight, normalizedShape);
        requireShape("layerNorm bias", bias, normalizedShape);
        int features = 1;
        for (int d : normalizedShape) {
            features *= d;
        }
        int[] rows = Arrays.copyOf(shape, shape.length - k + 1);
        rows[rows.length - 1] = features;
        Tensor flat = x.reshape(rows);
        Tensor centred = flat.sub(flat.mean(-1, true));
        Tensor variance = centred.mul(centred).mean(-1, true);
        Tensor y = centred.div(variance.add(eps).sqrt()).reshape(shape);
        if (weight != null) {
            y = y.mul(weight);
        }
        if (bias != null) {
            y = y.add(bias);
        }
        return y;
    }

    /** {@link #conv2d(Tensor, Tensor, Tensor, int[], int[], int[], int)} with one stride and padding for both axes. */
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding) {
        return conv2d(x, weight, bias, new int[] {stride, stride}, new int[] {padding, padding}, new int[] {1, 1}, 1);
    }

    /**
     * 2-D convolution (PyTorch's cross-correlation) of x [N, C, H, W] with weight [O, C / groups,
     * kh, kw] and an optional bias [O]: output [N, O, OH, OW], OH = (H + 2 ph - dh (kh - 1) - 1) / sh + 1.
     * Computed as im2col ({@link Tensor#im2col}: columns [N, C kh kw, OH OW]) and one matrix product
     * per group by the weight [O, C kh kw] (batched GEMMs, the output already [N, O, OH, OW]), so its
     * gradients are the product's and col2im's, with no convolution kernel in any backend.
     */
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int[] stride, int[] padding, int[] dilation,
                                int groups) {
        if (x == null || weight == null) {
            throw new IllegalArgumentException("conv2d: x and weight must not be null");
        }
        requirePair("conv2d stride", stride, 1);
        requirePair("conv2d padding", padding, 0);
        requirePair("conv2d dilation", dilation, 1);
        int[] xs = x.shape();
        int[] ws = weight.shape();
        if (xs.length != 4 || ws.length != 4) {
            throw new IllegalArgumentException("conv2d: x must be [N, C, H, W] and weight [O, C/groups, kh, kw], got "
                    + Arrays.toString(xs) + " and " + Arrays.toString(ws));
        }
        int n = xs[0];
        int c = xs[1];
        int o = ws[0];
        if (groups < 1 || c % groups != 0 || o % groups != 0 || ws[1] != c / groups) {
            throw new IllegalArgumentException("conv2d: " + c + " input channels, weight " + Arrays.toString(ws)
                    + " and groups=" + groups + " do not fit (C and O divisible by groups, weight axis 1 = C / groups)");
        }
        requireShape("conv2d bias", bias, new int[] {o});
        int kh = ws[2];
        int kw = ws[3];
        int extentH = dilation[0] * (kh - 1) + 1;
        int extentW = dilation[1] * (kw - 1) + 1;
        int paddedH = xs[2] + 2 * padding[0];
        int paddedW = xs[3] + 2 * padding[1];
        if (paddedH < extentH || paddedW < extentW) {
            throw new IllegalArgumentException("conv2d: the kernel spans " + extentH + "x" + extentW + " (with dilation) but"
                    + " the padded input is only " + paddedH + "x" + paddedW + " (input " + Arrays.toString(xs) + ")");
        }
        int oh = (paddedH - extentH) / stride[0] + 1;
        int ow = (paddedW - extentW) / stride[1] + 1;
        Tensor cols = x.im2col(kh, kw, stride, padding, dilation); // [N, C kh kw, OH OW]
        if (groups > 1) {
            cols = cols.reshape(n, c, kh * kw, oh * ow);
        }
        int cg = c / groups;
        int og = o / groups;
        Tensor[] outs = new Tensor[groups];
        for (int g = 0; g < groups; g++) {
            Tensor colsG = groups == 1 ? cols : cols.narrow(1, (long) g * cg, cg).reshape(n, cg * kh * kw, oh * ow);
            Tensor w = (groups == 1 ? weight : weight.narrow(0, (long) g * og, og)).reshape(og, cg * kh * kw);
            Tensor y = w.matmul(colsG); // [O/g, C/g kh kw] @ [N, C/g kh kw, OH OW]: [N, O/g, OH OW], the batch broadcast
            if (bias != null) {
                y = y.add((groups == 1 ? bias : bias.narrow(0, (long) g * og, og)).reshape(og, 1));
            }
            outs[g] = y;
        }
        Tensor out = groups == 1 ? outs[0] : Tensor.cat(1, outs);
        return out.reshape(n, o, oh, ow); // a view: [N, O, OH OW] is already NCHW
    }

    /** The largest value of each kernel x kernel window, windows {@code stride} apart (no padding; sizes round down). */
    public static Tensor maxPool2d(Tensor x, int kernel, int stride) {
        return windows("maxPool2d", x, kernel, stride).max(2, false);
    }

    /** The mean of each kernel x kernel window, windows {@code stride} apart (no padding; sizes round down). */
    public static Tensor avgPool2d(Tensor x, int kernel, int stride) {
        return windows("avgPool2d", x, kernel, stride).mean(2, false);
    }

    /** x [N, C, H, W] as [N, C, kernel * kernel, OH, OW]: each window's values along axis 2 (im2col). */
    private static Tensor windows(String op, Tensor x, int kernel, int stride) {
        if (x == null || x.rank() != 4) {
            throw new IllegalArgumentException(op + ": x must be [N, C, H, W], got "
                    + (x == null ? "null" : Arrays.toString(x.shape())));
        }
        if (kernel < 1 || stride < 1 || kernel > x.shape()[2] || kernel > x.shape()[3]) {
            throw new IllegalArgumentException(op + ": kernel " + kernel + " and stride " + stride + " do not fit input "
                    + Arrays.toString(x.shape()) + " (need 1 <= kernel <= H, W and stride >= 1)");
        }
        int[] s = x.shape();
        int oh = (s[2] - kernel) / stride + 1;
        int ow = (s[3] - kernel) / stride + 1;
        Tensor cols = x.im2col(kernel, kernel, new int[] {stride, stride}, new int[] {0, 0}, new int[] {1, 1});
        return cols.reshape(s[0], s[1], kernel * kernel, oh, ow);
    }

    /**
     * Batch normalisation over axis 1 of x [N, C, ...]: in training, each channel is normalised by
     * its mean and biased variance over the batch and spatial axes, and the running statistics are
     * updated in place (running = (1 - momentum) running + momentum batch, with the unbiased
     * variance, as PyTorch); in evaluation the running statistics normalise. Weight and bias [C]
     * may be null; the running statistics too when training (nothing is then tracked).
     */
    public static Tensor batchNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
                                   boolean training, double momentum, double eps) {
        if (x == null || x.rank() < 2) {
            throw new IllegalArgumentException("batchNorm: x must be [N, C, ...], got "
                    + (x == null ? "null" : Arrays.toString(x.shape())));
        }
        int[] shape = x.shape();
        int c = shape[1];
        int[] channels = {c};
        requireShape("batchNorm weight", weight, channels);
        requireShape("batchNorm bias", bias, channels);
        requireShape("batchNorm runningMean", runningMean, channels);
        requireShape("batchNorm runningVar", runningVar, channels);
        if (!training && (runningMean == null || runningVar == null)) {
            throw new IllegalArgumentException("batchNorm: evaluation needs the running mean and variance");
        }
        int[] perChannel = new int[shape.length];
        Arrays.fill(perChannel, 1);
        perChannel[1] = c;
        Tensor x3 = x.reshape(shape[0], c, -1);
        Tensor mean;
        Tensor variance;
        if (training) {
            long count = x.numel() / c;
            if (count < 2 && runningVar != null) {
                throw new IllegalArgumentException("batchNorm: training needs more than one value per channel, got input "
                        + Arrays.toString(shape));
            }
            mean = x3.mean(2, true).mean(0, true); // [1, C, 1]: equal counts, so the mean of means
            Tensor centred = x3.sub(mean);
            variance = centred.mul(centred).mean(2, true).mean(0, true);
            if (runningMean != null && runningVar != null) {
                try (var ignored = io.grad4j.autograd.Autograd.noGrad()) {
                    runningMean.updateInPlace(1 - momentum, momentum, mean.detach().reshape(c));
                    runningVar.updateInPlace(1 - momentum, momentum,
                            variance.detach().reshape(c).mul((double) count / (count - 1)));
                }
            }
        } else {
            mean = runningMean.reshape(1, c, 1);
            variance = runningVar.reshape(1, c, 1);
        }
        Tensor y = x3.sub(mean).div(variance.add(eps).sqrt()).reshape(shape);
        if (weight != null) {
            y = y.mul(weight.reshape(perChannel));
        }
        if (bias != null) {
            y = y.add(bias.reshape(perChannel));
        }
        return y;
    }

    /** softmax(q k^T / sqrt(d)) v over [..., T, d] inputs, with a causal mask (key j > query i hidden) when asked. */
    public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, boolean causal) {
        return scaledDotProductAttention(q, k, v, causal, 0.0, 0L);
    }

    /**
     * {@link #scaledDotProductAttention(Tensor, Tensor, Tensor, boolean)} with dropout of the
     * attention weights (probability dropoutP, mask from seed) after the softmax, as PyTorch's.
     * Composed of matmul, maskedFill with -inf, softmax and dropout.
     */
    public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, boolean causal, double dropoutP,
                                                   long seed) {
        if (q == null || k == null || v == null || q.rank() < 2 || k.rank() != q.rank() || v.rank() != q.rank()) {
            throw new IllegalArgumentException("scaledDotProductAttention: q, k, v must be [..., T, d] of one rank");
        }
        int d = q.shape()[q.rank() - 1];
        if (k.shape()[k.rank() - 1] != d || k.shape()[k.rank() - 2] != v.shape()[v.rank() - 2]) {
            throw new IllegalArgumentException("scaledDotProductAttention: q " + Arrays.toString(q.shape()) + ", k "
                    + Arrays.toString(k.shape()) + " and v " + Arrays.toString(v.shape())
                    + " do not fit (q and k share d, k and v share the key length)");
        }
        Tensor scores = q.matmul(k.transpose()).mul(1.0 / Math.sqrt(d));
        if (causal) {
            int t = q.shape()[q.rank() - 2];
            int s = k.shape()[k.rank() - 2];
            Tensor future;
            try (var scope = Backends.use(q.backend())) {
                future = Tensor.arange(DType.INT64, 0, t).unsqueeze(1).lt(Tensor.arange(DType.INT64, 0, s)); // j > i
            }
            scores = scores.maskedFill(future, Double.NEGATIVE_INFINITY);
        }
        Tensor weights = scores.softmax(-1);
        if (dropoutP > 0) {
            weights = weights.dropout(dropoutP, seed);
        }
        return weights.matmul(v);
    }

    // ---------------------------------------------------------------- helpers

    private static void requirePair(String what, int[] v, int min) {
        if (v == null || v.length != 2 || v[0] < min || v[1] < min) {
            throw new IllegalArgumentException(what + " must be two values >= " + min + ", got "
                    + (v == null ? "null" : Arrays.toString(v)));
        }
    }

    private static void requireShape(String what, Tensor t, int[] shape) {
        if (t != null && !Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(what + " must have shape " + Arrays.toString(shape) + ", got "
                    + Arrays.toString(t.shape()));
        }
    }
}
