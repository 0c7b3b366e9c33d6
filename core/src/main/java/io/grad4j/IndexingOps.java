package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.CompareOp;

import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.Locale;

/**
 * Indexing, selection and comparison, on the backend primitives gather, scatterAdd, where,
 * compare and argmax. Indices are INT32 or INT64 tensors on the operand's backend (INT32 is
 * widened once, as the primitives read INT64); an index outside its axis is an
 * IndexOutOfBoundsException naming the operation, the index and the size (the cuda backend
 * reports it at the next point the host waits, as PyTorch's device-side checks do).
 * <pre>
 *   gather:      y[.., j, ..] = x[.., index[.., j, ..], ..]   x_grad = zeros.scatterAdd(axis, index, g)
 *   scatterAdd:  y = x, y[.., index[.., j, ..], ..] += src[.., j, ..]
 *                                                          x_grad = g      src_grad = g.gather(axis, index)
 *   indexSelect: y[.., j, ..] = x[.., index[j], ..]        x_grad = zeros.indexAdd(axis, index, g)
 *   indexAdd:    y = x, y[.., index[j], ..] += src[.., j, ..]
 *                                                          x_grad = g      src_grad = g.indexSelect(axis, index)
 *   where:       y = c ? a : b                             a_grad = c ? g : 0     b_grad = c ? 0 : g
 * </pre>
 * Every forward rule is linear in the differentiable inputs, so each JVP is the forward
 * operation applied to the tangents, and each VJP is written again in these differentiable
 * operations for gradients of gradients.
 */
final class IndexingOps {
    private IndexingOps() {
    }

    // ---------------------------------------------------------------- gather / scatterAdd

    static Tensor gather(Tensor input, int axis, Tensor index) {
        input.checkOpen();
        Tensor idx = int64Index("gather", input, index);
        int[] xs = input.shapeInternal();
        int[] is = idx.shapeInternal();
        requireIndexFits("gather", xs, is, axis, "the input");
        Tensor x = narrowTo(input, is, axis).forKernel();
        Tensor y = gatherRaw(x, axis, idx);
        int[] xShape = x.shapeInternal();
        Tensor recorded = Graph.record("gather", y, new Tensor[] {x}, new Tensor[] {idx},
                g -> new Tensor[] {scatterAddRaw(Tensor.zeros(g.backendInternal(), g.dtypeInternal(), xShape), axis, idx, g)},
                t -> gatherRaw(t[0], axis, idx));
        return recorded.gradFn() == null ? recorded : recorded.withRule(g -> new Tensor[] {
                scatterAdd(Tensor.zeros(g.backendInternal(), g.dtypeInternal(), xShape), axis, idx, g)});
    }

    static Tensor scatterAdd(Tensor self, int axis, Tensor index, Tensor source) {
        self.checkOpen();
        Tensor.checkCompatible("scatterAdd", self, source);
        Tensor idx = int64Index("scatterAdd", self, index);
        int[] xs = self.shapeInternal();
        int[] is = idx.shapeInternal();
        requireIndexFits("scatterAdd", xs, is, axis, "the tensor added into");
        if (source.shapeInternal().length != is.length) {
            throw new IllegalArgumentException("scatterAdd: the source has rank " + source.shapeInternal().length
                    + " but the index " + is.length + " (source " + Arrays.toString(source.shapeInternal()) + ", index "
                    + Arrays.toString(is) + ")");
        }
        for (int d = 0; d < is.length; d++) {
            if (is[d] > source.shapeInternal()[d]) {
                throw new IllegalArgumentException("scatterAdd: the index " + Arrays.toString(is) + " is larger than the"
                        + " source " + Arrays.toString(source.shapeInternal()) + " on axis " + d);
            }
        }
        Tensor src = narrowTo(source, is, -1).forKernel();
        Tensor y = scatterAddRaw(self, axis, idx, src);
        Tensor recorded = Graph.record("scatterAdd", y, new Tensor[] {self, src}, new Tensor[] {idx},
                g -> new Tensor[] {g, gatherCorner(g, axis, idx)},
                t -> scatterAddRaw(t[0], axis, idx, t[1]));
        return recorded.gradFn() == null ? recorded : recorded.withRule(g -> new Tensor[] {g, gather(g, axis, idx)});
    }

    /** y[.., j, ..] = x[.., index[.., j, ..], ..]; x dense, its shape the index's off the axis. */
    private static Tensor gatherRaw(Tensor x, int axis, Tensor idx) {
        return gatherRaw(x, axis, x.shapeInternal(), idx);
    }

    /** gather from the corner of g (any layout) that the index covers off the axis: scatterAdd's source gradient. */
    private static Tensor gatherCorner(Tensor g, int axis, Tensor idx) {
        int[] region = idx.shapeInternal().clone();
        region[axis] = g.shapeInternal()[axis];
        Tensor corner = narrowRaw(g, region);
        Tensor dense = corner.denseRaw();
        Tensor y = gatherRaw(dense, axis, idx);
        dense.closeIfCopyOf(corner);
        corner.close();
        return y;
    }

    private static Tensor gatherRaw(Tensor x, int axis, int[] xShape, Tensor idx) {
        int[] is = idx.shapeInternal();
        Backend backend = x.backendInternal();
        Tensor y = Tensor.empty(backend, x.dtypeInternal(), is.clone());
        long inner = ReductionOps.inner(is, axis);
        backend.gather(x.storage(), xShape[axis], idx.storage(), new long[] {(long) is[axis] * inner, inner, 1},
                y.storage(), ReductionOps.outer(is, axis), is[axis], inner);
        Reference.reachabilityFence(x);
        Reference.reachabilityFence(idx);
        return y;
    }

    /**
     * A new dense tensor: self with src (dense, the index's shape) added at the index. Where the
     * index is smaller than self off the axis, the sums go into that corner of the copy.
     */
    private static Tensor scatterAddRaw(Tensor self, int axis, Tensor idx, Tensor src) {
        int[] is = idx.shapeInternal();
        int[] xs = self.shapeInternal();
        Backend backend = self.backendInternal();
        Tensor out = ViewOps.copyRaw(self);
        Tensor srcDense = src.denseRaw();
        int[] region = is.clone();
        region[axis] = xs[axis];
        boolean corner = !Arrays.equals(region, xs);
        Tensor target = corner ? ViewOps.copyRaw(narrowRaw(out, region)) : out;
        long inner = ReductionOps.inner(is, axis);
        backend.scatterAdd(srcDense.storage(), idx.storage(), new long[] {(long) is[axis] * inner, inner, 1},
                target.storage(), xs[axis], ReductionOps.outer(is, axis), is[axis], inner);
        if (corner) {
            Tensor slot = narrowRaw(out, region);
            backend.stridedCopy(target.storage(), 0, BroadcastShape.contiguousStrides(region), out.storage(),
                    slot.offsetInternal(), slot.stridesInternal(), region);
            slot.close();
            target.close();
        }
        srcDense.closeIfCopyOf(src);
        Reference.reachabilityFence(src);
        Reference.reachabilityFence(idx);
        return out;
    }

    // ---------------------------------------------------------------- indexSelect / indexAdd

    static Tensor indexSelect(Tensor input, int axis, Tensor index) {
        input.checkOpen();
        Tensor idx = int64Index("indexSelect", input, index);
        if (idx.shapeInternal().length != 1) {
            throw new IllegalArgumentException("indexSelect: the index must be 1-D, got shape "
                    + Arrays.toString(idx.shapeInternal()));
        }
        Tensor x = input.forKernel();
        Tensor y = indexSelectRaw(x, axis, idx);
        int[] xShape = x.shapeInternal();
        Tensor recorded = Graph.record("indexSelect", y, new Tensor[] {x}, new Tensor[] {idx},
                g -> new Tensor[] {indexAddRaw(Tensor.zeros(g.backendInternal(), g.dtypeInternal(), xShape), axis, idx, g)},
                t -> indexSelectRaw(t[0], axis, idx));
        return recorded.gradFn() == null ? recorded : recorded.withRule(g -> new Tensor[] {
                indexAdd(Tensor.zeros(g.backendInternal(), g.dtypeInternal(), xShape), axis, idx, g)});
    }

    /** self with src[.., j, ..] added at self[.., index[j], ..] (PyTorch's index_add), out of place. */
    static Tensor indexAdd(Tensor self, int axis, Tensor index, Tensor source) {
        Tensor.checkCompatible("indexAdd", self, source);
        Tensor idx = int64Index("indexAdd", self, index);
        int[] expected = self.shapeInternal().clone();
        expected[axis] = idx.shapeInternal()[0];
        if (idx.shapeInternal().length != 1 || !Arrays.equals(expected, source.shapeInternal())) {
            throw new IllegalArgumentException("indexAdd: a 1-D index and a source of shape " + Arrays.toString(expected)
                    + " are needed, got index " + Arrays.toString(idx.shapeInternal()) + " and source "
                    + Arrays.toString(source.shapeInternal()));
        }
        Tensor src = source.forKernel();
        Tensor y = indexAddRaw(self, axis, idx, src);
        Tensor recorded = Graph.record("indexAdd", y, new Tensor[] {self, src}, new Tensor[] {idx},
                g -> new Tensor[] {g, indexSelectRaw(g.denseRaw(), axis, idx)},
                t -> indexAddRaw(t[0], axis, idx, t[1]));
        return recorded.gradFn() == null ? recorded : recorded.withRule(g -> new Tensor[] {g, indexSelect(g, axis, idx)});
    }

    private static Tensor indexSelectRaw(Tensor x, int axis, Tensor idx) {
        int[] xs = x.shapeInternal();
        int[] ys = xs.clone();
        ys[axis] = idx.shapeInternal()[0];
        Backend backend = x.backendInternal();
        Tensor y = Tensor.empty(backend, x.dtypeInternal(), ys);
        Tensor xd = x.denseRaw();
        backend.gather(xd.storage(), xs[axis], idx.storage(), new long[] {0, 1, 0}, y.storage(),
                ReductionOps.outer(xs, axis), ys[axis], ReductionOps.inner(xs, axis));
        xd.closeIfCopyOf(x);
        Reference.reachabilityFence(x);
        Reference.reachabilityFence(idx);
        return y;
    }

    private static Tensor indexAddRaw(Tensor self, int axis, Tensor idx, Tensor src) {
        int[] xs = self.shapeInternal();
        Backend backend = self.backendInternal();
        Tensor out = ViewOps.copyRaw(self);
        Tensor srcDense = src.denseRaw();
        backend.scatterAdd(srcDense.storage(), idx.storage(), new long[] {0, 1, 0}, out.storage(), xs[axis],
                ReductionOps.outer(xs, axis), idx.shapeInternal()[0], ReductionOps.inner(xs, axis));
        srcDense.closeIfCopyOf(src);
        Reference.reachabilityFence(src);
        Reference.reachabilityFence(idx);
        return out;
    }

    // ---------------------------------------------------------------- where / maskedFill

    static Tensor where(Tensor condition, Tensor first, Tensor second) {
        if (condition == null) {
            throw new IllegalArgumentException("where: the condition is null");
        }
        condition.checkOpen();
        Tensor.checkCompatible("where", first, second);
        if (condition.dtypeInternal() != DType.BOOL) {
            throw new IllegalArgumentException("where: the condition must be BOOL, got " + condition.dtypeInternal() + " "
                    + Arrays.toString(condition.shapeInternal()) + " (compare with eq/lt/gt, or convert with to(DType.BOOL))");
        }
        if (condition.backendInternal() != first.backendInternal()) {
            throw new IllegalArgumentException("where: the condition is on " + condition.backendInternal().name()
                    + ", the values on " + first.backendInternal().name() + " (move one with to(Backend))");
        }
        Tensor c = condition.denseRaw();
        Tensor a = first.forKernel();
        Tensor b = second.forKernel();
        int[] shape = BroadcastShape.of("where", BroadcastShape.of("where", c.shapeInternal(), a.shapeInternal()),
                b.shapeInternal());
        Tensor y = whereRaw(c, a, b, shape);
        int[] aShape = a.shapeInternal();
        int[] bShape = b.shapeInternal();
        Tensor recorded = Graph.record("where", y, new Tensor[] {a, b}, new Tensor[] {c},
                g -> {
                    Tensor zero = Tensor.zeros(g.backendInternal(), g.dtypeInternal(), new int[0]);
                    Tensor[] grads = {ReductionOps.sumTo(whereRaw(c, g, zero, shape), aShape),
                            ReductionOps.sumTo(whereRaw(c, zero, g, shape), bShape)};
                    zero.close();
                    return grads;
                },
                t -> whereRaw(c, t[0], t[1], shape));
        return recorded.gradFn() == null ? recorded : recorded.withRule(g -> {
            Tensor zero = Tensor.zeros(g.backendInternal(), g.dtypeInternal(), new int[0]);
            return new Tensor[] {ReductionOps.sumToDifferentiable(where(condition, g, zero), aShape),
                    ReductionOps.sumToDifferentiable(where(condition, zero, g), bShape)};
        });
    }

    static Tensor maskedFill(Tensor self, Tensor mask, double value) {
        self.checkOpen();
        if (mask == null) {
            throw new IllegalArgumentException("maskedFill: the mask is null");
        }
        mask.checkOpen();
        int[] shape = BroadcastShape.of("maskedFill", self.shapeInternal(), mask.shapeInternal());
        if (!Arrays.equals(shape, self.shapeInternal())) {
            throw new IllegalArgumentException("maskedFill: the mask " + Arrays.toString(mask.shapeInternal())
                    + " must broadcast to the tensor's shape " + Arrays.toString(self.shapeInternal()));
        }
        Tensor fill = Tensor.full(self.backendInternal(), self.dtypeInternal(), value, new int[0]);
        return where(mask, fill, self);
    }

    private static Tensor whereRaw(Tensor c, Tensor a, Tensor b, int[] shape) {
        Backend backend = a.backendInternal();
        Tensor y = Tensor.empty(backend, a.dtypeInternal(), shape);
        Tensor ad = a.denseRaw();
        Tensor bd = b.denseRaw();
        backend.where(c.storage(), BroadcastShape.strides(c.shapeInternal(), shape), ad.storage(),
                BroadcastShape.strides(a.shapeInternal(), shape), bd.storage(), BroadcastShape.strides(b.shapeInternal(), shape),
                y.storage(), shape);
        ad.closeIfCopyOf(a);
        bd.closeIfCopyOf(b);
        Reference.reachabilityFence(c);
        Reference.reachabilityFence(a);
        Reference.reachabilityFence(b);
        return y;
    }

    // ---------------------------------------------------------------- comparisons and argmax

    /** A BOOL tensor of op(a, b) with broadcasting; operands of different dtypes compare in the wider one. */
    static Tensor compare(CompareOp op, Tensor first, Tensor second) {
        String name = op.name().toLowerCase(Locale.ROOT);
        if (second == null) {
            throw new IllegalArgumentException(name + ": the other operand is null");
        }
        first.checkOpen();
        second.checkOpen();
        if (first.backendInternal() != second.backendInternal()) {
            throw new IllegalArgumentException(name + ": backends differ: " + first.backendInternal().name() + " vs "
                    + second.backendInternal().name() + " (move one with to(Backend))");
        }
        DType common = wider(first.dtypeInternal(), second.dtypeInternal());
        Tensor a = first.detach().to(common);
        Tensor b = second.detach().to(common);
        int[] shape = BroadcastShape.of(name, a.shapeInternal(), b.shapeInternal());
        Backend backend = a.backendInternal();
        Tensor y = Tensor.empty(backend, DType.BOOL, shape);
        Tensor ad = a.denseRaw();
        Tensor bd = b.denseRaw();
        backend.compare(op, ad.storage(), BroadcastShape.strides(a.shapeInternal(), shape), bd.storage(),
                BroadcastShape.strides(b.shapeInternal(), shape), y.storage(), shape);
        ad.closeIfCopyOf(a);
        bd.closeIfCopyOf(b);
        Reference.reachabilityFence(a);
        Reference.reachabilityFence(b);
        return y;
    }

    /**
     * op(x, s) against a scalar: an integer tensor against a whole number compares as integers, a
     * fraction (or a floating-point tensor) in FLOAT64 (PyTorch's promotion: {@code int_tensor == 2.5}
     * is false everywhere).
     */
    static Tensor compare(CompareOp op, Tensor x, double s) {
        x.checkOpen();
        DType dtype = x.dtypeInternal();
        boolean whole = !dtype.isFloatingPoint() && s == Math.rint(s) && Math.abs(s) < 0x1p62;
        DType as = dtype.isFloatingPoint() ? dtype : whole ? DType.INT64 : DType.FLOAT64;
        Tensor scalar = Tensor.full(x.backendInternal(), as, s, new int[0]); // a float tensor's own dtype, as PyTorch
        try {
            return compare(op, x, scalar);
        } finally {
            scalar.close();
        }
    }

    /** PyTorch's promotion order: BOOL < INT32 < INT64 < FLOAT32 < FLOAT64. */
    private static DType wider(DType a, DType b) {
        return promotionRank(a) >= promotionRank(b) ? a : b;
    }

    private static int promotionRank(DType d) {
        return switch (d) {
            case BOOL -> 0;
            case INT32 -> 1;
            case INT64 -> 2;
            case FLOAT32 -> 3;
            case FLOAT64 -> 4;
        };
    }

    /**
     * The first position of the largest value along an axis, INT64 (a NaN counts as largest, as in
     * PyTorch). Integer tensors are compared as FLOAT64 (exact up to 2^53).
     */
    static Tensor argmax(Tensor input, int axis, boolean keepDim) {
        input.checkOpen();
        int[] shape = input.shapeInternal();
        if (shape[axis] == 0) {
            throw new IllegalArgumentException("argmax: axis " + axis + " of shape " + Arrays.toString(shape)
                    + " is empty; the position of the largest of nothing is undefined");
        }
        Tensor x = input.dtypeInternal().isFloatingPoint() ? input.detach() : input.detach().to(DType.FLOAT64);
        Tensor xd = x.denseRaw();
        int[] kept = shape.clone();
        kept[axis] = 1;
        Backend backend = x.backendInternal();
        Tensor y = Tensor.empty(backend, DType.INT64, kept);
        backend.argmax(xd.storage(), y.storage(), ReductionOps.outer(shape, axis), shape[axis],
                ReductionOps.inner(shape, axis));
        xd.closeIfCopyOf(x);
        Reference.reachabilityFence(x);
        return keepDim ? y : y.view(ReductionOps.removeAxis(shape, axis));
    }

    // ---------------------------------------------------------------- helpers

    /** The index as a dense INT64 tensor on the operand's backend (INT32 widened). */
    private static Tensor int64Index(String op, Tensor operand, Tensor index) {
        if (index == null) {
            throw new IllegalArgumentException(op + ": the index is null");
        }
        index.checkOpen();
        DType dtype = index.dtypeInternal();
        if (dtype != DType.INT64 && dtype != DType.INT32) {
            throw new IllegalArgumentException(op + ": the index must be INT32 or INT64, got " + dtype + " "
                    + Arrays.toString(index.shapeInternal()));
        }
        if (index.backendInternal() != operand.backendInternal()) {
            throw new IllegalArgumentException(op + ": the index is on " + index.backendInternal().name()
                    + ", the tensor on " + operand.backendInternal().name() + " (move one with to(Backend))");
        }
        Tensor wide = dtype == DType.INT64 ? index : index.to(DType.INT64);
        return wide.denseRaw();
    }

    /** PyTorch's rule for gather and scatter_add: same rank, index no larger than the tensor off the axis. */
    private static void requireIndexFits(String op, int[] xs, int[] is, int axis, String what) {
        if (xs.length != is.length) {
            throw new IllegalArgumentException(op + ": the index has rank " + is.length + " but " + what + " "
                    + xs.length + " (index " + Arrays.toString(is) + ", " + Arrays.toString(xs) + ")");
        }
        for (int d = 0; d < xs.length; d++) {
            if (d != axis && is[d] > xs[d]) {
                throw new IllegalArgumentException(op + ": the index " + Arrays.toString(is) + " is larger than " + what
                        + " " + Arrays.toString(xs) + " on axis " + d + " (only the indexed axis " + axis + " may differ)");
            }
        }
    }

    /** x narrowed (differentiably, as a view) to the index's sizes on every axis but {@code keep}. */
    private static Tensor narrowTo(Tensor x, int[] is, int keep) {
        Tensor t = x;
        for (int d = 0; d < is.length; d++) {
            if (d != keep && is[d] != t.shapeInternal()[d]) {
                t = t.narrow(d, 0, is[d]);
            }
        }
        return t;
    }

    /** A view of the leading corner of x of the given shape (no history). */
    private static Tensor narrowRaw(Tensor x, int[] shape) {
        return x.viewOf(shape.clone(), x.stridesInternal().clone(), x.offsetInternal());
    }
}
