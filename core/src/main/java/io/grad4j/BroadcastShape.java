package io.grad4j;

import io.grad4j.backend.ElementCount;

import java.util.Arrays;

/** NumPy broadcasting: shapes aligned on the right, each pair of sizes equal or one of them 1. */
final class BroadcastShape {
    private BroadcastShape() {
    }

    /** The broadcast shape of a and b, or an IllegalArgumentException naming op and both shapes. */
    static int[] of(String op, int[] a, int[] b) {
        if (Arrays.equals(a, b)) {
            return a;
        }
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = dimFromRight(a, rank - 1 - i);
            int db = dimFromRight(b, rank - 1 - i);
            if (da == db || db == 1) {
                out[i] = da;
            } else if (da == 1) {
                out[i] = db;
            } else {
                throw new IllegalArgumentException(op + ": shapes " + Arrays.toString(a) + " and "
                        + Arrays.toString(b) + " do not broadcast (axis " + i + " of the result: "
                        + da + " vs " + db + ")");
            }
        }
        ElementCount.of(op + ": the broadcast result of " + Arrays.toString(a) + " and " + Arrays.toString(b), out);
        return out;
    }

    /**
     * Element strides for reading a contiguous tensor of {@code shape} as if it had
     * {@code outShape}: 0 on broadcast axes. {@code shape} must broadcast to {@code outShape}.
     */
    static long[] strides(int[] shape, int[] outShape) {
        int rank = outShape.length;
        long[] strides = new long[rank];
        long step = 1;
        for (int i = rank - 1; i >= 0; i--) {
            int d = dimFromRight(shape, rank - 1 - i);
            strides[i] = d == 1 && outShape[i] != 1 ? 0 : step;
            step *= d;
        }
        return strides;
    }

    /** Row-major element strides of a contiguous tensor. */
    static long[] contiguousStrides(int[] shape) {
        long[] strides = new long[shape.length];
        long step = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = step;
            step *= shape[i];
        }
        return strides;
    }

    /** The element count of a shape, overflow-checked ({@link ElementCount#of}). */
    static long numel(int[] shape) {
        return ElementCount.of("shape", shape);
    }

    /** Size of axis i counted in a rank-{@code rank} alignment where missing leading axes are 1. */
    private static int dimFromRight(int[] shape, int fromRight) {
        int idx = shape.length - 1 - fromRight;
        return idx >= 0 ? shape[idx] : 1;
    }
}
