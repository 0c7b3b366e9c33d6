package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.ReduceOp;

import java.lang.ref.Reference;
import java.util.Arrays;

/**
 * Sum, mean and max along an axis or over everything. A tensor is viewed as [outer, axis, inner]
 * around the reduced axis, which is all a backend sees.
 * <pre>
 *   sum:  y = sum_j x_j          x_grad = expand(g)                    y_dot = sum_j x_dot_j
 *   mean: y = sum(x) / n         (composed: sum, then scalar multiply)
 *   max:  y = x_j*, j* = first argmax
 *                                x_grad = g at j*, 0 elsewhere         y_dot = x_dot_j*
 * </pre>
 * {@link #sumTo} is the gradient of broadcasting, written once here for every broadcasting op.
 */
final class ReductionOps {
    private ReductionOps() {
    }

    static Tensor sumAll(Tensor input) {
        input.requireFloatingPoint("sum");
        Tensor x = input.forKernel();
        Tensor y = sumEverything(x);
        int[] xShape = x.shapeInternal();
        return Graph.record("sum", y, x,
                g -> new Tensor[] {expand(g, xShape)},
                t -> sumAll(t[0]))
                .withRule(g -> new Tensor[] {g.expand(xShape)});
    }

    static Tensor sum(Tensor input, int axis, boolean keepDim) {
        input.requireFloatingPoint("sum");
        Tensor x = input.forKernel();
        Tensor kept = reduceRaw(ReduceOp.SUM, x, axis);
        Tensor y = keepDim ? kept : kept.view(removeAxis(x.shapeInternal(), axis));
        int[] xShape = x.shapeInternal();
        int[] keptShape = kept.shapeInternal();
        return Graph.record("sum", y, x,
                g -> new Tensor[] {expand(g.view(keptShape), xShape)},
                t -> sum(t[0], axis, keepDim))
                .withRule(g -> new Tensor[] {g.reshape(keptShape).expand(xShape)});
    }

    static Tensor meanAll(Tensor x) {
        return sumAll(x).mul(1.0 / x.numelInternal());
    }

    static Tensor mean(Tensor x, int axis, boolean keepDim) {
        return sum(x, axis, keepDim).mul(1.0 / x.shapeInternal()[axis]);
    }

    static Tensor max(Tensor input, int axis, boolean keepDim) {
        input.requireFloatingPoint("max");
        Tensor x = input.forKernel();
        if (x.shapeInternal()[axis] == 0) {
            throw new IllegalArgumentException("max: axis " + axis + " of shape " + Arrays.toString(x.shapeInternal())
                    + " is empty; the maximum of nothing is undefined");
        }
        Tensor kept = reduceRaw(ReduceOp.MAX, x, axis);
        Tensor y = keepDim ? kept : kept.view(removeAxis(x.shapeInternal(), axis));
        int[] keptShape = kept.shapeInternal();
        return Graph.record("max", y, new Tensor[] {x}, new Tensor[] {x, kept},
                g -> new Tensor[] {maxBackward(x, kept, g.view(keptShape), axis)},
                t -> {
                    Tensor ones = Tensor.full(x.backendInternal(), x.dtypeInternal(), 1.0, keptShape);
                    Tensor argmaxMask = maxBackward(x, kept, ones, axis);
                    Tensor picked = ArithmeticOps.raw(io.grad4j.backend.BinaryOp.MUL, argmaxMask, t[0], x.shapeInternal());
                    Tensor s = reduceRaw(ReduceOp.SUM, picked, axis);
                    return keepDim ? s : s.view(removeAxis(x.shapeInternal(), axis));
                })
                .withRule(g -> {
                    Tensor argmaxMask; // where the gradient goes: constant, as the argmax is
                    try (io.grad4j.autograd.NoGrad ignored = io.grad4j.autograd.Autograd.noGrad()) {
                        argmaxMask = maxBackward(x, kept, Tensor.full(x.backendInternal(), x.dtypeInternal(), 1.0, keptShape),
                                axis);
                    }
                    return new Tensor[] {g.reshape(keptShape).expand(x.shapeInternal()).mul(argmaxMask)};
                });
    }

    /**
     * The sum of all elements as a rank-0 tensor: one reduction over the flattened tensor, or,
     * past Integer.MAX_VALUE elements (a flat axis must be an int; a GPU tensor can be larger), one
     * axis at a time: flattening it into an axis of MAX_VALUE silently summed only part of it.
     */
    private static Tensor sumEverything(Tensor x) {
        if (x.numelInternal() <= Integer.MAX_VALUE) {
            return reduceRaw(ReduceOp.SUM, x.view(new int[] {(int) x.numelInternal()}), 0).view(new int[0]);
        }
        Tensor t = x;
        for (int axis = x.shapeInternal().length - 1; axis >= 0; axis--) {
            t = reduceRaw(ReduceOp.SUM, t, axis);
        }
        return t.view(new int[0]);
    }

    /** Sums g over the axes along which {@code shape} was broadcast to g's shape; g itself if equal. */
    static Tensor sumTo(Tensor g, int[] shape) {
        int[] gShape = g.shapeInternal();
        if (Arrays.equals(gShape, shape)) {
            return g;
        }
        int lead = gShape.length - shape.length;
        Tensor t = g;
        if (lead > 0) {
            long leadSize = BroadcastShape.numel(Arrays.copyOf(gShape, lead));
            int[] rest = Arrays.copyOfRange(gShape, lead, gShape.length);
            if (leadSize > Integer.MAX_VALUE) { // cannot be one int axis: sum the leading axes one at a time
                for (int i = 0; i < lead; i++) {
                    t = reduceRaw(ReduceOp.SUM, t, 0).view(Arrays.copyOfRange(t.shapeInternal(), 1, t.shapeInternal().length));
                }
                return sumTo(t, shape);
            }
            Tensor flat = t.view(prepend((int) leadSize, rest));
            t = reduceRaw(ReduceOp.SUM, flat, 0).view(rest);
        }
        for (int axis = 0; axis < shape.length; axis++) {
            if (shape[axis] == 1 && t.shapeInternal()[axis] != 1) {
                t = reduceRaw(ReduceOp.SUM, t, axis);
            }
        }
        return t.view(shape.clone());
    }

    /** {@link #sumTo} in differentiable operations (sums over the broadcast axes, then a reshape). */
    static Tensor sumToDifferentiable(Tensor g, int[] shape) {
        int[] gShape = g.shapeInternal();
        if (Arrays.equals(gShape, shape)) {
            return g;
        }
        Tensor t = g;
        int lead = gShape.length - shape.length;
        for (int i = 0; i < lead; i++) {
            t = t.sum(0, false);
        }
        for (int axis = 0; axis < shape.length; axis++) {
            if (shape[axis] == 1 && t.shapeInternal()[axis] != 1) {
                t = t.sum(axis, true);
            }
        }
        return t.reshape(shape);
    }

    /** Broadcasts g (whose shape broadcasts to {@code shape}) into a new contiguous tensor. */
    static Tensor expand(Tensor g, int[] shape) {
        Backend backend = g.backendInternal();
        Tensor out = Tensor.empty(backend, g.dtypeInternal(), shape);
        long[] strides = ViewOps.broadcastStrides(g, shape);
        backend.stridedCopy(g.storageOfView(), g.offsetInternal(), strides, out.storage(), 0,
                BroadcastShape.contiguousStrides(shape), shape);
        Reference.reachabilityFence(g);
        return out;
    }

    /** Reduction of one axis without history; the result keeps the axis with size 1. */
    static Tensor reduceRaw(ReduceOp op, Tensor x, int axis) {
        int[] shape = x.shapeInternal();
        int[] kept = shape.clone();
        kept[axis] = 1;
        Backend backend = x.backendInternal();
        Tensor out = Tensor.empty(backend, x.dtypeInternal(), kept);
        Tensor xd = x.denseRaw();
        backend.reduce(op, xd.storage(), out.storage(), outer(shape, axis), shape[axis], inner(shape, axis));
        xd.closeIfCopyOf(x);
        Reference.reachabilityFence(x);
        return out;
    }

    private static Tensor maxBackward(Tensor x, Tensor max, Tensor g, int axis) {
        int[] shape = x.shapeInternal();
        Backend backend = x.backendInternal();
        Tensor out = Tensor.empty(backend, x.dtypeInternal(), shape);
        backend.maxBackward(x.storage(), max.storage(), g.storage(), out.storage(),
                outer(shape, axis), shape[axis], inner(shape, axis));
        Reference.reachabilityFence(x);
        Reference.reachabilityFence(max);
        Reference.reachabilityFence(g);
        return out;
    }

    static long outer(int[] shape, int axis) {
        long n = 1;
        for (int i = 0; i < axis; i++) {
            n *= shape[i];
        }
        return n;
    }

    static long inner(int[] shape, int axis) {
        long n = 1;
        for (int i = axis + 1; i < shape.length; i++) {
            n *= shape[i];
        }
        return n;
    }

    static int[] removeAxis(int[] shape, int axis) {
        int[] out = new int[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) {
            if (i != axis) {
                out[j++] = shape[i];
            }
        }
        return out;
    }

    private static int[] prepend(int first, int[] rest) {
        int[] out = new int[rest.length + 1];
        out[0] = first;
        System.arraycopy(rest, 0, out, 1, rest.length);
        return out;
    }
}
