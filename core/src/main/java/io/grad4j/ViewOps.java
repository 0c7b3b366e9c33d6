package io.grad4j;

import io.grad4j.backend.Backend;

import java.lang.ref.Reference;
import java.util.Arrays;

/**
 * Views: operations that change only a tensor's layout (shape, strides, offset) over the same
 * storage, so they cost no copy and no kernel. Each is linear, so its VJP moves the upstream
 * gradient back and its JVP applies the same view to the tangent:
 * <pre>
 *   permute(axes):          x_grad = permute(g, inverse(axes))      y_dot = permute(x_dot, axes)
 *   expand(shape):          x_grad = sumTo(g, x.shape)              y_dot = expand(x_dot, shape)
 *   narrow(axis, s, n):     x_grad = zeros(x.shape) with g at s..s+n-1 along axis
 *                                                                   y_dot = narrow(x_dot, axis, s, n)
 *   unsqueeze / squeeze:    x_grad = squeeze / unsqueeze(g)         y_dot = the same view of x_dot
 *   contiguous:             x_grad = g                              y_dot = x_dot
 * </pre>
 * select is narrow then squeeze; transpose is a permute that swaps two axes.
 */
final class ViewOps {
    private ViewOps() {
    }

    /** A row-major copy with the gradient passing straight through: an operation's view input made dense. */
    static Tensor contiguous(Tensor x) {
        Tensor y = copyRaw(x);
        return Graph.recordView("contiguous", y, x, g -> new Tensor[] {g}, t -> t[0]).withRule(g -> new Tensor[] {g});
    }

    /** A dense copy of any layout, without history: one strided copy. */
    static Tensor copyRaw(Tensor x) {
        Backend backend = x.backendInternal();
        int[] shape = x.shapeInternal();
        Tensor out = Tensor.empty(backend, x.dtypeInternal(), shape);
        backend.stridedCopy(x.storageOfView(), x.offsetInternal(), x.stridesInternal(), out.storage(), 0,
                BroadcastShape.contiguousStrides(shape), shape);
        Reference.reachabilityFence(x);
        return out;
    }

    static Tensor permute(Tensor x, int[] axes) {
        x.checkOpen();
        int[] order = checkPermutation(x, axes);
        int[] inverse = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            inverse[order[i]] = i;
        }
        Tensor y = permuteRaw(x, order);
        return Graph.recordView("permute", y, x,
                g -> new Tensor[] {permuteRaw(g, inverse)},
                t -> permuteRaw(t[0], order))
                .withRule(g -> new Tensor[] {g.permute(inverse)});
    }

    static Tensor transpose(Tensor x, int a, int b) {
        int[] order = identity(x.shapeInternal().length);
        order[a] = b;
        order[b] = a;
        Tensor y = permuteRaw(x, order);
        return Graph.recordView("transpose", y, x,
                g -> new Tensor[] {permuteRaw(g, order)},
                t -> permuteRaw(t[0], order))
                .withRule(g -> new Tensor[] {g.permute(order)});
    }

    static Tensor permuteRaw(Tensor x, int[] order) {
        int[] shape = x.shapeInternal();
        long[] strides = x.stridesInternal();
        int[] outShape = new int[order.length];
        long[] outStrides = new long[order.length];
        for (int i = 0; i < order.length; i++) {
            outShape[i] = shape[order[i]];
            outStrides[i] = strides[order[i]];
        }
        return x.viewOf(outShape, outStrides, x.offsetInternal());
    }

    static Tensor expand(Tensor x, int[] requested) {
        x.checkOpen();
        if (requested == null) {
            throw new IllegalArgumentException("expand: shape is null");
        }
        int[] shape = x.shapeInternal();
        int[] target = requested.clone();
        int lead = target.length - shape.length;
        if (lead < 0) {
            throw new IllegalArgumentException("expand: the target " + Arrays.toString(requested) + " has fewer axes than"
                    + " the tensor's shape " + Arrays.toString(shape));
        }
        for (int i = 0; i < target.length; i++) {
            int own = i < lead ? -2 : shape[i - lead];
            if (target[i] == -1) {
                if (own == -2) {
                    throw new IllegalArgumentException("expand: -1 at new leading axis " + i + " of "
                            + Arrays.toString(requested) + " has no size to keep (shape " + Arrays.toString(shape) + ")");
                }
                target[i] = own;
            } else if (target[i] < 0 || (own >= 0 && own != 1 && own != target[i])) {
                throw new IllegalArgumentException("expand: cannot expand shape " + Arrays.toString(shape) + " to "
                        + Arrays.toString(requested) + ": axis " + i + " has size " + own + " (only size-1 axes expand)");
            }
        }
        Tensor.checkShape("expand", target);
        Tensor y = expandRaw(x, target);
        return Graph.record("expand", y, x,
                g -> new Tensor[] {ReductionOps.sumTo(g, shape)},
                t -> expandRaw(t[0], target))
                .withRule(g -> new Tensor[] {ReductionOps.sumToDifferentiable(g, shape)});
    }

    /** A broadcast view of x as target (x's shape broadcasts to it, checked by the caller). */
    static Tensor expandRaw(Tensor x, int[] target) {
        return x.viewOf(target.clone(), broadcastStrides(x, target), x.offsetInternal());
    }

    /** x's strides for reading it broadcast to target: 0 on new and expanded axes. */
    static long[] broadcastStrides(Tensor x, int[] target) {
        int[] shape = x.shapeInternal();
        long[] strides = x.stridesInternal();
        int lead = target.length - shape.length;
        long[] out = new long[target.length];
        for (int i = lead; i < target.length; i++) {
            out[i] = shape[i - lead] == target[i] ? strides[i - lead] : 0;
        }
        return out;
    }

    static Tensor narrow(Tensor x, int axis, long start, long length) {
        x.checkOpen();
        int[] shape = x.shapeInternal();
        int size = shape[axis];
        long requestedStart = start;
        if (start < 0 && start >= -size) {
            start += size; // from the end, as PyTorch reads it
        }
        if (start < 0 || length < 0 || start + length > size) {
            throw new IndexOutOfBoundsException("narrow: elements " + start + " to " + (start + length - 1) + " (start "
                    + requestedStart + ", length " + length + ") of axis " + axis + " of size " + size + " (shape "
                    + Arrays.toString(shape) + ")");
        }
        long from = start;
        Tensor y = narrowRaw(x, axis, from, (int) length);
        return Graph.recordView("narrow", y, x,
                g -> new Tensor[] {padRaw(g, shape, axis, from)},
                t -> narrowRaw(t[0], axis, from, (int) length))
                .withRule(g -> new Tensor[] {pad(g, shape, axis, from)});
    }

    static Tensor narrowRaw(Tensor x, int axis, long start, int length) {
        int[] outShape = x.shapeInternal().clone();
        outShape[axis] = length;
        long[] strides = x.stridesInternal();
        long offset = length == 0 ? x.offsetInternal() : x.offsetInternal() + start * strides[axis];
        return x.viewOf(outShape, strides.clone(), offset);
    }

    /**
     * {@link #padRaw} as a differentiable operation (narrow's gradient, differentiated again):
     * it is linear, and its VJP is the narrow it undoes.
     */
    private static Tensor pad(Tensor g, int[] shape, int axis, long start) {
        int length = g.shapeInternal()[axis];
        Tensor y = padRaw(g, shape, axis, start);
        return Graph.record("pad", y, g,
                h -> new Tensor[] {narrowRaw(h, axis, start, length)},
                t -> padRaw(t[0], shape, axis, start))
                .withRule(h -> new Tensor[] {h.narrow(axis, start, length)});
    }

    /** Zeros of {@code shape} with g written at {@code start..} along axis: the VJP of narrow. */
    private static Tensor padRaw(Tensor g, int[] shape, int axis, long start) {
        Tensor out = Tensor.zeros(g.backendInternal(), g.dtypeInternal(), shape.clone());
        Tensor slot = narrowRaw(out, axis, start, g.shapeInternal()[axis]);
        g.backendInternal().stridedCopy(g.storageOfView(), g.offsetInternal(), g.stridesInternal(), out.storage(),
                slot.offsetInternal(), slot.stridesInternal(), g.shapeInternal());
        slot.close();
        Reference.reachabilityFence(g);
        return out;
    }

    static Tensor select(Tensor x, int axis, long index) {
        x.checkOpen();
        int size = x.shapeInternal()[axis];
        if (index < -size || index >= size) {
            throw new IndexOutOfBoundsException("select: index " + index + " is out of range for axis " + axis
                    + " of size " + size + " (shape " + Arrays.toString(x.shapeInternal()) + ")");
        }
        long at = index < 0 ? index + size : index;
        return squeeze(narrow(x, axis, at, 1), axis);
    }

    static Tensor unsqueeze(Tensor x, int axis) {
        x.checkOpen();
        Tensor y = unsqueezeRaw(x, axis);
        return Graph.recordView("unsqueeze", y, x,
                g -> new Tensor[] {squeezeRaw(g, axis)},
                t -> unsqueezeRaw(t[0], axis))
                .withRule(g -> new Tensor[] {g.squeeze(axis)});
    }

    static Tensor squeeze(Tensor x, int axis) {
        x.checkOpen();
        if (x.shapeInternal()[axis] != 1) {
            return x; // PyTorch's rule: squeezing an axis longer than 1 leaves the tensor as it is
        }
        Tensor y = squeezeRaw(x, axis);
        return Graph.recordView("squeeze", y, x,
                g -> new Tensor[] {unsqueezeRaw(g, axis)},
                t -> squeezeRaw(t[0], axis))
                .withRule(g -> new Tensor[] {g.unsqueeze(axis)});
    }

    static Tensor unsqueezeRaw(Tensor x, int axis) {
        int[] shape = x.shapeInternal();
        long[] strides = x.stridesInternal();
        int[] outShape = new int[shape.length + 1];
        long[] outStrides = new long[shape.length + 1];
        for (int i = 0, j = 0; i < outShape.length; i++) {
            if (i == axis) {
                outShape[i] = 1;
                outStrides[i] = j < shape.length ? strides[j] * shape[j] : 1;
            } else {
                outShape[i] = shape[j];
                outStrides[i] = strides[j];
                j++;
            }
        }
        return x.viewOf(outShape, outStrides, x.offsetInternal());
    }

    static Tensor squeezeRaw(Tensor x, int axis) {
        int[] shape = x.shapeInternal();
        long[] strides = x.stridesInternal();
        int[] outShape = new int[shape.length - 1];
        long[] outStrides = new long[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) {
            if (i != axis) {
                outShape[j] = shape[i];
                outStrides[j++] = strides[i];
            }
        }
        return x.viewOf(outShape, outStrides, x.offsetInternal());
    }

    /**
     * Sliding windows of {@code size} along an axis, {@code step} apart: the axis becomes the
     * window count (n - size) / step + 1 and a new last axis of {@code size} holds each window
     * (PyTorch's {@code Tensor.unfold}). A view; windows overlap when step < size, so writing
     * into it is refused. Its VJP folds the windows back, summing where they overlap:
     * <pre>
     *   y[.., i, .., j] = x[.., i * step + j, ..]     x_grad[.., p, ..] = sum over i * step + j = p of g[.., i, .., j]
     * </pre>
     * convolution and pooling are unfold then a product or a reduction.
     */
    static Tensor unfold(Tensor x, int axis, int size, int step) {
        x.checkOpen();
        int[] shape = x.shapeInternal();
        if (size < 1 || size > shape[axis] || step < 1) {
            throw new IllegalArgumentException("unfold: windows of " + size + " every " + step + " along axis " + axis
                    + " of shape " + Arrays.toString(shape) + " (need 1 <= size <= " + shape[axis] + " and step >= 1)");
        }
        Tensor y = unfoldRaw(x, axis, size, step);
        return Graph.record("unfold", y, x,
                g -> new Tensor[] {foldRaw(g, shape, axis, size, step)},
                t -> unfoldRaw(t[0], axis, size, step))
                .withRule(g -> new Tensor[] {fold(g, shape, axis, size, step)});
    }

    private static Tensor unfoldRaw(Tensor x, int axis, int size, int step) {
        int[] shape = x.shapeInternal();
        long[] strides = x.stridesInternal();
        int rank = shape.length;
        int[] outShape = Arrays.copyOf(shape, rank + 1);
        long[] outStrides = Arrays.copyOf(strides, rank + 1);
        outShape[axis] = (shape[axis] - size) / step + 1;
        outStrides[axis] = strides[axis] * step;
        outShape[rank] = size;
        outStrides[rank] = strides[axis];
        return x.viewOf(outShape, outStrides, x.offsetInternal());
    }

    /** {@link #foldRaw} as a differentiable operation: linear, its VJP the unfold it undoes. */
    private static Tensor fold(Tensor g, int[] shape, int axis, int size, int step) {
        Tensor y = foldRaw(g, shape, axis, size, step);
        return Graph.record("fold", y, g,
                h -> new Tensor[] {unfoldRaw(h, axis, size, step)},
                t -> foldRaw(t[0], shape, axis, size, step))
                .withRule(h -> new Tensor[] {h.unfold(axis, size, step)});
    }

    /**
     * unfold's VJP: zeros of {@code shape} with each window of g added back where it came from.
     * Windows that do not overlap (step >= size: pooling) go in one strided copy; overlapping ones
     * are added one window offset j at a time (size passes), each pass touching distinct positions.
     */
    private static Tensor foldRaw(Tensor g, int[] shape, int axis, int size, int step) {
        Backend backend = g.backendInternal();
        Tensor out = Tensor.zeros(backend, g.dtypeInternal(), shape.clone());
        long[] cs = BroadcastShape.contiguousStrides(shape);
        int[] gShape = g.shapeInternal();
        int rank = shape.length;
        if (step >= size) {
            long[] dst = Arrays.copyOf(cs, rank + 1);
            dst[axis] = cs[axis] * step;
            dst[rank] = cs[axis];
            backend.stridedCopy(g.storageOfView(), g.offsetInternal(), g.stridesInternal(), out.storage(), 0, dst, gShape);
            Reference.reachabilityFence(g);
            return out;
        }
        int[] windowShape = Arrays.copyOf(gShape, rank); // g without its last axis
        long[] dst = cs.clone();
        dst[axis] = cs[axis] * step;
        long[] gStrides = g.stridesInternal();
        long[] srcStrides = Arrays.copyOf(gStrides, rank);
        for (int j = 0; j < size; j++) {
            Tensor slot = out.viewOf(windowShape, dst, j * cs[axis]);
            Tensor window = g.viewOf(windowShape, srcStrides, g.offsetInternal() + j * gStrides[rank]);
            Tensor sum = ArithmeticOps.raw(io.grad4j.backend.BinaryOp.ADD, slot, window, windowShape);
            backend.stridedCopy(sum.storage(), 0, BroadcastShape.contiguousStrides(windowShape), out.storage(),
                    slot.offsetInternal(), dst, windowShape);
            sum.close();
            slot.close();
            window.close();
        }
        Reference.reachabilityFence(g);
        return out;
    }

    /** x in another shape of the same size: a view where the strides allow, else a dense copy reshaped. */
    static Tensor reshapeRaw(Tensor x, int[] shape) {
        if (x.isDense()) {
            return x.view(shape);
        }
        long[] strides = Layouts.reshapeStrides(x.shapeInternal(), x.stridesInternal(), shape);
        if (strides != null) {
            return x.viewOf(shape, strides, x.offsetInternal());
        }
        Tensor copy = copyRaw(x);
        Tensor y = copy.view(shape);
        copy.close(); // y keeps the storage
        return y;
    }

    private static int[] identity(int rank) {
        int[] order = new int[rank];
        for (int i = 0; i < rank; i++) {
            order[i] = i;
        }
        return order;
    }

    private static int[] checkPermutation(Tensor x, int[] axes) {
        int rank = x.shapeInternal().length;
        if (axes == null || axes.length != rank) {
            throw new IllegalArgumentException("permute: " + (axes == null ? "axes is null" : Arrays.toString(axes)
                    + " has " + axes.length + " axes") + "; shape " + Arrays.toString(x.shapeInternal()) + " needs " + rank);
        }
        int[] order = new int[rank];
        boolean[] seen = new boolean[rank];
        for (int i = 0; i < rank; i++) {
            int a = axes[i] < 0 ? axes[i] + rank : axes[i];
            if (a < 0 || a >= rank || seen[a]) {
                throw new IllegalArgumentException("permute: " + Arrays.toString(axes) + " is not a permutation of the "
                        + rank + " axes of shape " + Arrays.toString(x.shapeInternal())
                        + (a >= 0 && a < rank ? " (axis " + axes[i] + " appears twice)" : " (axis " + axes[i] + " is out of range)"));
            }
            seen[a] = true;
            order[i] = a;
        }
        return order;
    }
}
