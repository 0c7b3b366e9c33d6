package io.grad4j.cuda;

import io.grad4j.backend.StridedLayout;

import java.util.Arrays;

/**
 * Strided layouts as the kernels take them: at most {@link #MAX_RANK} axes, passed as fixed
 * 8-slot arrays of 64-bit sizes and strides (a struct by value).
 */
final class KernelDims {
    static final int MAX_RANK = 8;

    private KernelDims() {
    }

    /** The layout of {@link StridedLayout#of}, refused when the kernels cannot index it. */
    static StridedLayout layout(String op, int[] shape, long[] aStrides, long aLength, long[] bStrides, long bLength,
                                long outLength) {
        StridedLayout l = StridedLayout.of(op, shape, aStrides, aLength, bStrides, bLength, outLength);
        if (l.rank() > MAX_RANK) {
            throw new IllegalArgumentException(op + ": the cuda backend handles at most " + MAX_RANK
                    + " non-mergeable axes, got shape " + Arrays.toString(shape) + " with strides "
                    + Arrays.toString(aStrides) + (bStrides == null ? "" : " and " + Arrays.toString(bStrides)));
        }
        return l;
    }

    /** Pads an array to the kernels' fixed {@link #MAX_RANK} slots. */
    static long[] dims(int[] v) {
        long[] d = new long[MAX_RANK];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    static long[] dims(long[] v) {
        return Arrays.copyOf(v, MAX_RANK);
    }
}
