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

    /**
     * The layout of a {@link Backend#stridedCopy} from {@code src} (read at srcOffset + strides)
     * into {@code dst} (written at dstOffset + strides): the source is operand a, the destination
     * operand b. Both are checked against their storages' lengths, and the destination's positions
     * must be distinct (no stride 0 on an axis longer than 1, no axes that overlap), since a backend
     * writes them in any order.
     */
    public static StridedLayout ofCopy(String op, int[] shape, long srcOffset, long[] srcStrides, long srcLength,
                                       long dstOffset, long[] dstStrides, long dstLength) {
        long n = ElementCount.of(op, shape);
        checkOffset(op, "source", srcOffset, srcLength, n);
        checkOffset(op, "destination", dstOffset, dstLength, n);
        if (n > 0 && dstStrides.length == shape.length && !distinctPositions(shape, dstStrides)) {
            throw new IllegalArgumentException(op + ": the destination's strides " + Arrays.toString(dstStrides)
                    + " over shape " + Arrays.toString(shape) + " write some elements more than once (an expanded or"
                    + " overlapping view cannot be written into)");
        }
        if (n == 0) {
            return new StridedLayout(0, new int[0], new long[0], new long[0]);
        }
        try {
            return of(op, shape, srcStrides, srcLength - srcOffset, dstStrides, dstLength - dstOffset, n);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + " past its offset (source offset " + srcOffset
                    + " of " + srcLength + ", destination offset " + dstOffset + " of " + dstLength + ")", e);
        }
    }

    private static void checkOffset(String op, String which, long offset, long length, long n) {
        if (offset < 0 || offset > length || (n > 0 && offset == length)) {
            throw new IllegalArgumentException(op + ": the " + which + " offset " + offset + " lies outside its storage of "
                    + length + " elements");
        }
    }

    /**
     * Whether every index of shape maps to its own position: with the axes longer than 1 sorted by
     * stride, each stride exceeds the farthest position the smaller-strided axes reach (a
     * sufficient test, exact for every layout a view of a contiguous tensor can have).
     */
    public static boolean distinctPositions(int[] shape, long[] strides) {
        int rank = shape.length;
        Integer[] order = new Integer[rank];
        for (int i = 0; i < rank; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Long.compare(strides[x], strides[y]));
        long reach = 0; // the largest position the axes so far reach
        for (int i : order) {
            if (shape[i] <= 1) {
                continue;
            }
            if (strides[i] <= reach) {
                return false;
            }
            reach += (shape[i] - 1L) * strides[i];
        }
        return true;
    }

    /** Row-major strides of a contiguous tensor of this shape (size-1 axes get their row-major stride too). */
    public static long[] contiguousStrides(int[] shape) {
        long[] s = new long[shape.length];
        long step = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = step;
            step *= Math.max(1, shape[i]);
        }
        return s;
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
