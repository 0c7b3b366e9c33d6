package io.grad4j.backend;

import java.util.Arrays;

/**
 * For backends: a contiguous output shape with one or two operands read at element strides (the
 * arguments of {@link Backend#binary} and {@link Backend#stridedCopy}), checked against the
 * operands' lengths (a GPU kernel reading out of bounds corrupts silently, so the host checks
 * first) and with axes merged where every operand is contiguous across them: a same-shape op
 * becomes one flat axis, a bias add two axes, a transpose stays two. Size-1 axes are dropped.
 */
public record StridedLayout(long elements, int[] shape, long[] aStrides, long[] bStrides) {

    /** Validates and collapses; {@code bStrides} may be null for a single operand (then all zero). */
    public static StridedLayout of(String op, int[] shape, long[] aStrides, long aLength, long[] bStrides, long bLength, long outLength) {
        long n = ElementCount.of(op, shape); // a wrapped count (0 for [2^24, 2^20, 2^20]) would skip every check below
        if (n != outLength) {
            throw new IllegalArgumentException(op + ": output has " + outLength + " elements but shape "
                    + Arrays.toString(shape) + " has " + n);
        }
        checkOperand(op, "first operand", shape, aStrides, aLength, n);
        long[] b = bStrides == null ? new long[shape.length] : bStrides;
        if (bStrides != null) {
            checkOperand(op, "second operand", shape, bStrides, bLength, n);
        }
        int rank = shape.length;
        int[] s = new int[rank];
        long[] sa = new long[rank];
        long[] sb = new long[rank];
        int r = 0;
        for (int i = 0; i < rank; i++) {
            if (shape[i] == 1) {
                continue; // a size-1 axis moves nothing
            }
            // merged sizes stay ints: [2^16, 2^16] must not become one axis of 2^32 (0 as an int)
            if (r > 0 && sa[r - 1] == aStrides[i] * shape[i] && sb[r - 1] == b[i] * shape[i]
                    && (long) s[r - 1] * shape[i] <= Integer.MAX_VALUE) {
                s[r - 1] *= shape[i];
                sa[r - 1] = aStrides[i];
                sb[r - 1] = b[i];
            } else {
                s[r] = shape[i];
                sa[r] = aStrides[i];
                sb[r] = b[i];
                r++;
            }
        }
        return new StridedLayout(n, Arrays.copyOf(s, r), Arrays.copyOf(sa, r), Arrays.copyOf(sb, r));
    }

    private static void checkOperand(String op, String which, int[] shape, long[] strides, long length, long n) {
        if (strides.length != shape.length) {
            throw new IllegalArgumentException(op + ": " + which + " has " + strides.length
                    + " strides for the " + shape.length + " axes of shape " + Arrays.toString(shape));
        }
        if (n == 0) {
            return;
        }
        long last = 0;
        boolean overflow = false;
        for (int i = 0; i < shape.length; i++) {
            if (strides[i] < 0) {
                throw new IllegalArgumentException(op + ": " + which + " has a negative stride: " + Arrays.toString(strides));
            }
            try {
                last = Math.addExact(last, Math.multiplyExact(shape[i] - 1L, strides[i]));
            } catch (ArithmeticException e) {
                overflow = true; // reaches past any storage
                last = Long.MAX_VALUE;
            }
        }
        if (overflow || last >= length) {
            throw new IllegalArgumentException(op + ": " + which + " read at strides " + Arrays.toString(strides)
                    + " over shape " + Arrays.toString(shape) + " reaches element " + last
                    + " but its storage has only " + length + " elements");
        }
    }

    public int rank() {
        return shape.length;
    }

    /** Single axis where each operand is contiguous (stride 1) or a broadcast scalar (stride 0). */
    public boolean isFlat() {
        return rank() <= 1 && (rank() == 0 || ((aStrides[0] == 0 || aStrides[0] == 1) && (bStrides[0] == 0 || bStrides[0] == 1)));
    }

    /** Element step of operand a on the flat path (0 or 1). */
    public int aStep() {
        return rank() == 0 ? 0 : (int) aStrides[0];
    }

    public int bStep() {
        return rank() == 0 ? 0 : (int) bStrides[0];
    }

}
