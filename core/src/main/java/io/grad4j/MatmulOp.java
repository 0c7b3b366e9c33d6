package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.ElementCount;
import io.grad4j.backend.MatmulShape;
import io.grad4j.backend.Storage;

import java.lang.ref.Reference;
import java.util.Arrays;

/**
 * Matrix product y = A @ B over the last two axes, batched over leading axes (equal on both sides,
 * or present on one side only and shared by every entry of the other). Vectors are promoted to
 * matrices by reshapes, so their gradients come from the reshape rule.
 * <pre>
 *   A_grad = g @ B^T      B_grad = A^T @ g      y_dot = A_dot @ B + A @ B_dot
 * </pre>
 * Each gradient is computed only when its input requires it (the first layer's input batch
 * needs none: that saves a quarter of an MLP's backward FLOPs). Transposes are GEMM flags, never copies. When B is shared by every batch entry, B_grad is one
 * GEMM over the flattened batch: A^T [k, batch*m] @ g [batch*m, n].
 */
final class MatmulOp {
    private MatmulOp() {
    }

    static Tensor matmul(Tensor a, Tensor b) {
        Tensor.checkCompatible("matmul", a, b);
        a.requireFloatingPoint("matmul");
        int ra = a.shapeInternal().length;
        int rb = b.shapeInternal().length;
        if (ra == 0 || rb == 0) {
            throw new IllegalArgumentException("matmul: operands must have rank >= 1, got shapes "
                    + Arrays.toString(a.shapeInternal()) + " and " + Arrays.toString(b.shapeInternal())
                    + " (use mul for scalars)");
        }
        if (ra == 1 && rb == 1) {
            int k = a.shapeInternal()[0];
            checkInner(a, b, k, b.shapeInternal()[0]);
            return matrices(a.reshape(1, k), b.reshape(k, 1)).reshape();
        }
        if (ra == 1) {
            Tensor y = matrices(a.reshape(1, a.shapeInternal()[0]), b);
            int[] out = ReductionOps.removeAxis(y.shapeInternal(), y.shapeInternal().length - 2);
            return y.reshape(out);
        }
        if (rb == 1) {
            Tensor y = matrices(a, b.reshape(b.shapeInternal()[0], 1));
            int[] out = ReductionOps.removeAxis(y.shapeInternal(), y.shapeInternal().length - 1);
            return y.reshape(out);
        }
        return matrices(a, b);
    }

    /** Both operands have rank >= 2. */
    private static Tensor matrices(Tensor a, Tensor b) {
        int[] as = a.shapeInternal();
        int[] bs = b.shapeInternal();
        checkInner(a, b, as[as.length - 1], bs[bs.length - 2]);
        int[] aBatch = Arrays.copyOf(as, as.length - 2);
        int[] bBatch = Arrays.copyOf(bs, bs.length - 2);
        if (aBatch.length > 0 && bBatch.length > 0 && !Arrays.equals(aBatch, bBatch)) {
            throw new IllegalArgumentException("matmul: batch axes must be equal or present on one side only, got shapes "
                    + Arrays.toString(as) + " and " + Arrays.toString(bs));
        }
        Tensor y = product(a, false, b, false);
        // read once (see ArithmeticOps.apply): what is saved and what backward computes must agree
        boolean aNeedsGrad = a.requiresGradInternal();
        boolean bNeedsGrad = b.requiresGradInternal();
        Tensor recorded = Graph.record("matmul", y, new Tensor[] {a, b},
                new Tensor[] {bNeedsGrad ? a : null, aNeedsGrad ? b : null},
                g -> new Tensor[] {aNeedsGrad ? gradA(a, b, g) : null,
                        bNeedsGrad ? gradB(a, b, g) : null},
                t -> ArithmeticOps.raw(BinaryOp.ADD, product(t[0], false, b, false), product(a, false, t[1], false),
                        y.shapeInternal()));
        return recorded.gradFn() == null ? recorded
                : recorded.withRule(g -> new Tensor[] {aNeedsGrad ? gradARule(a, b, g) : null, bNeedsGrad ? gradBRule(a, b, g) : null});
    }

    /** A_grad = g @ B^T and B_grad = A^T @ g in differentiable operations (summed over a shared operand's batch). */
    private static Tensor gradARule(Tensor a, Tensor b, Tensor g) {
        return ReductionOps.sumToDifferentiable(g.matmul(b.transpose()), a.shapeInternal());
    }

    private static Tensor gradBRule(Tensor a, Tensor b, Tensor g) {
        return ReductionOps.sumToDifferentiable(a.transpose().matmul(g), b.shapeInternal());
    }

    private static Tensor gradA(Tensor a, Tensor b, Tensor g) {
        // g @ B^T has g's batch axes; sum them away when A was shared across the batch
        return ReductionOps.sumTo(product(g, false, b, true), a.shapeInternal());
    }

    private static Tensor gradB(Tensor a, Tensor b, Tensor g) {
        int[] as = a.shapeInternal();
        int[] bs = b.shapeInternal();
        long rows = BroadcastShape.numel(Arrays.copyOf(as, Math.max(0, as.length - 1)));
        if (bs.length == 2 && rows <= Integer.MAX_VALUE) { // one flattened GEMM needs an int row count
            int k = as[as.length - 1];
            int n = bs[1];
            Tensor aRows = ViewOps.reshapeRaw(a, new int[] {(int) rows, k});
            Tensor gRows = ViewOps.reshapeRaw(g, new int[] {(int) rows, n});
            try {
                if (GemmOperand.isTransposeView(b)) {
                    // B is W^T for a dense W [n, k] (a Linear layer's weight): compute W's gradient
                    // g^T @ A in W's own layout and hand back its transpose, a view, so the
                    // transpose's VJP turns it back into W's layout without a copy
                    Tensor inBaseLayout = product(gRows, true, aRows, false);
                    Tensor view = ViewOps.permuteRaw(inBaseLayout, new int[] {1, 0});
                    inBaseLayout.close(); // the view keeps the storage
                    return view;
                }
                return product(aRows, true, gRows, false);
            } finally {
                aRows.close();
                gRows.close();
            }
        }
        return ReductionOps.sumTo(product(a, true, g, false), bs);
    }

    /**
     * x @ w + bias, the bias added where the product is written ({@link Backend#matmulBias}): a
     * linear layer in one backend call instead of a product and a broadcast add. x has rank 2 or
     * more, w is [k, n], bias [n]; other shapes take the composition. The gradients and tangents
     * are the composition's, computed the same way, so {@code x.matmul(w).add(bias)}'s bits:
     * <pre>
     *   x_grad = g @ w^T      w_grad = x^T @ g      bias_grad = g summed over every axis but the last
     *   y_dot = (x_dot @ w + x @ w_dot) + bias_dot
     * </pre>
     */
    static Tensor matmulAdd(Tensor x, Tensor w, Tensor bias) {
        Tensor.checkCompatible("matmulAdd", x, w);
        Tensor.checkCompatible("matmulAdd", x, bias);
        x.requireFloatingPoint("matmulAdd");
        int[] xs = x.shapeInternal();
        int[] ws = w.shapeInternal();
        int[] bs = bias.shapeInternal();
        if (xs.length < 2 || ws.length != 2 || bs.length != 1 || bs[0] != ws[1]) {
            return x.matmul(w).add(bias);
        }
        checkInner(x, w, xs[xs.length - 1], ws[0]);
        Tensor y = product(x, false, w, false, bias);
        int[] yShape = y.shapeInternal();
        boolean xNeedsGrad = x.requiresGradInternal();
        boolean wNeedsGrad = w.requiresGradInternal();
        boolean biasNeedsGrad = bias.requiresGradInternal();
        Tensor recorded = Graph.record("matmulAdd", y, new Tensor[] {x, w, bias},
                new Tensor[] {wNeedsGrad ? x : null, xNeedsGrad ? w : null},
                g -> new Tensor[] {xNeedsGrad ? gradA(x, w, g) : null,
                        wNeedsGrad ? gradB(x, w, g) : null,
                        biasNeedsGrad ? ReductionOps.sumTo(g, bs) : null},
                t -> {
                    // as the composition: a product with no tangent on either side gives the add a
                    // zero tangent, rather than 0 @ w + x @ 0 (NaN where x or w is infinite)
                    Tensor productTangent = x.tangent == null && w.tangent == null
                            ? Tensor.zeros(y.backendInternal(), y.dtypeInternal(), yShape)
                            : ArithmeticOps.raw(BinaryOp.ADD, product(t[0], false, w, false), product(x, false, t[1], false),
                                    yShape);
                    return ArithmeticOps.raw(BinaryOp.ADD, productTangent, t[2], yShape);
                });
        return recorded.gradFn() == null ? recorded
                : recorded.withRule(g -> new Tensor[] {xNeedsGrad ? gradARule(x, w, g) : null,
                        wNeedsGrad ? gradBRule(x, w, g) : null, biasNeedsGrad ? ReductionOps.sumToDifferentiable(g, bs) : null});
    }

    /** op(a) @ op(b) without history, batched as described in the class comment. */
    static Tensor product(Tensor a, boolean transA, Tensor b, boolean transB) {
        return product(a, transA, b, transB, null);
    }

    /**
     * The same, plus {@code bias} (n elements, or null for none) added to every row. Operands may
     * be views: one whose last two axes are a dense tensor's swapped (a transpose, such as a
     * Linear layer's weight W^T) goes to the GEMM as that tensor with its transpose flag flipped,
     * at no cost; any other layout is copied first.
     */
    private static Tensor product(Tensor a0, boolean transA, Tensor b0, boolean transB, Tensor bias0) {
        GemmOperand a = GemmOperand.of(a0);
        GemmOperand b = GemmOperand.of(b0);
        Tensor bias = bias0 == null ? null : bias0.denseRaw();
        try {
            return denseProduct(a, transA != a.swapped(), b, transB != b.swapped(), bias);
        } finally {
            a.tensor().closeIfCopyOf(a0);
            b.tensor().closeIfCopyOf(b0);
            if (bias != null) {
                bias.closeIfCopyOf(bias0);
            }
        }
    }

    /**
     * What the GEMM reads for an operand: a tensor whose storage is dense in {@code shape}, and
     * whether that shape is the operand's with its last two axes swapped (a transpose view, read
     * through its base's storage without making a tensor of it).
     */
    private record GemmOperand(Tensor tensor, int[] shape, boolean swapped) {
        /** x itself if dense; x read as its base if it is a transpose view; else a dense copy. */
        static GemmOperand of(Tensor x) {
            if (x.isDense()) {
                return new GemmOperand(x, x.shapeInternal(), false);
            }
            int[] swappedShape = transposeViewShape(x);
            if (swappedShape != null) {
                return new GemmOperand(x, swappedShape, true);
            }
            Tensor copy = x.denseRaw();
            return new GemmOperand(copy, copy.shapeInternal(), false);
        }

        Storage storage() {
            return swapped ? tensor.storageOfView() : tensor.storage();
        }

        /** Whether x is a dense tensor with its last two axes swapped. */
        static boolean isTransposeView(Tensor x) {
            return !x.isDense() && transposeViewShape(x) != null;
        }

        /** The shape of the dense tensor x is a transpose view of (last two axes swapped), or null if it is none. */
        private static int[] transposeViewShape(Tensor x) {
            int[] shape = x.shapeInternal();
            long[] strides = x.stridesInternal();
            int r = shape.length;
            if (r < 2 || x.offsetInternal() != 0 || x.numelInternal() != x.storageLength()) {
                return null;
            }
            int[] swappedShape = shape.clone();
            long[] swappedStrides = strides.clone();
            swappedShape[r - 2] = shape[r - 1];
            swappedShape[r - 1] = shape[r - 2];
            swappedStrides[r - 2] = strides[r - 1];
            swappedStrides[r - 1] = strides[r - 2];
            return Layouts.isContiguous(swappedShape, swappedStrides) ? swappedShape : null;
        }
    }

    private static Tensor denseProduct(GemmOperand a, boolean transA, GemmOperand b, boolean transB, Tensor bias) {
        int[] as = a.shape();
        int[] bs = b.shape();
        int ra = as.length;
        int rb = bs.length;
        int m = transA ? as[ra - 1] : as[ra - 2];
        int k = transA ? as[ra - 2] : as[ra - 1];
        int n = transB ? bs[rb - 2] : bs[rb - 1];
        int[] batchDims = ra > 2 ? Arrays.copyOf(as, ra - 2) : Arrays.copyOf(bs, rb - 2);
        int[] outShape = Arrays.copyOf(batchDims, batchDims.length + 2);
        outShape[batchDims.length] = m;
        outShape[batchDims.length + 1] = n;
        ElementCount.of("matmul: the product of " + Arrays.toString(as) + " and " + Arrays.toString(bs), outShape);
        long batchCount = BroadcastShape.numel(batchDims);
        if (batchCount > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("matmul: " + batchCount + " products in the batch of " + Arrays.toString(as)
                    + " @ " + Arrays.toString(bs) + ", more than " + Integer.MAX_VALUE);
        }
        int batch = (int) batchCount;
        MatmulShape spec = new MatmulShape(batch, m, n, k, transA, transB,
                ra > 2 ? (long) m * k : 0, rb > 2 ? (long) k * n : 0);
        Backend backend = a.tensor().backendInternal();
        Tensor c = Tensor.empty(backend, a.tensor().dtypeInternal(), outShape);
        if (bias == null) {
            backend.matmul(a.storage(), b.storage(), c.storage(), spec);
        } else {
            backend.matmulBias(a.storage(), b.storage(), bias.storage(), c.storage(), spec);
        }
        Reference.reachabilityFence(a.tensor());
        Reference.reachabilityFence(b.tensor());
        Reference.reachabilityFence(bias);
        return c;
    }

    private static void checkInner(Tensor a, Tensor b, int ka, int kb) {
        if (ka != kb) {
            throw new IllegalArgumentException("matmul: inner dimensions differ: " + Arrays.toString(a.shapeInternal())
                    + " @ " + Arrays.toString(b.shapeInternal()) + " (" + ka + " vs " + kb + ")");
        }
    }
}
