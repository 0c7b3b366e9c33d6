package io.grad4j.backend;

import java.util.Arrays;

/**
 * Element counts computed without wrapping: every place that multiplies sizes (a shape's
 * product, a matmul's m*n, a Jacobian's rows*columns) goes through here, so a product too large
 * for a long, or for a tensor, is an {@link IllegalArgumentException} naming the shape, and never
 * a small wrapped number that a later allocation or native call trusts (a shape of
 * [2^24, 2^20, 2^20] wraps to 0 elements in plain long arithmetic).
 */
public final class ElementCount {
    /**
     * The most elements one tensor may hold, 2^50: far beyond any device's memory, and small
     * enough that byte counts (8 bytes an element) and sums of a few counts never overflow a long.
     */
    public static final long MAX = 1L << 50;

    private ElementCount() {
    }

    /**
     * The product of {@code shape}'s sizes (1 for rank 0), or an IllegalArgumentException naming
     * {@code where} and the shape when a size is negative or the product exceeds {@link #MAX}.
     */
    public static long of(String where, int[] shape) {
        if (shape == null) {
            throw new IllegalArgumentException(where + ": shape is null");
        }
        long n = 1;
        boolean tooLarge = false;
        boolean empty = false;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(where + ": negative dimension in shape " + Arrays.toString(shape));
            }
            if (d == 0) {
                empty = true; // an empty tensor, however large its other sizes; keep checking them for negatives
                continue;
            }
            if (n > MAX / d) {
                tooLarge = true; // keep looking: a later 0 makes the tensor empty, a negative size is an error
            } else {
                n *= d;
            }
        }
        if (empty) {
            return 0;
        }
        if (tooLarge) {
            throw new IllegalArgumentException(where + ": shape " + Arrays.toString(shape) + " is too large: it holds "
                    + exactProduct(shape) + " elements, more than a tensor can (at most 2^50 = " + MAX + ")");
        }
        return n;
    }

    /**
     * {@code a * b} for two non-negative sizes, or an IllegalArgumentException naming
     * {@code what} (for example "jacobian: 50000 outputs x 50000 inputs") when the product exceeds
     * {@code limit}, whose meaning {@code limitName} says.
     */
    public static long times(String what, long a, long b, long limit, String limitName) {
        if (a < 0 || b < 0) {
            throw new IllegalArgumentException(what + ": negative size (" + a + " x " + b + ")");
        }
        long product;
        try {
            product = Math.multiplyExact(a, b);
        } catch (ArithmeticException overflow) {
            product = Long.MAX_VALUE;
        }
        if (product > limit) {
            throw new IllegalArgumentException(what + " = " + java.math.BigInteger.valueOf(a).multiply(java.math.BigInteger.valueOf(b))
                    + " elements, more than " + limitName + " (" + limit + ")");
        }
        return product;
    }

    /**
     * Checks that a native call (a BLAS routine, a kernel) that will touch elements
     * {@code [offset, offset + needed)} of a buffer of {@code length} elements stays inside it: the
     * one place Java's bounds checks do not reach, where a wrong size corrupts memory or crashes
     * the JVM instead of throwing.
     */
    public static void requireInside(String call, String buffer, long length, long offset, long needed) {
        if (offset < 0 || needed < 0 || offset > length || needed > length - offset) {
            throw new IllegalArgumentException(call + ": " + buffer + " holds " + length + " elements but the call "
                    + "would touch " + needed + " from element " + offset + "; refusing it rather than reading or "
                    + "writing outside the buffer");
        }
    }

    private static java.math.BigInteger exactProduct(int[] shape) {
        java.math.BigInteger p = java.math.BigInteger.ONE;
        for (int d : shape) {
            p = p.multiply(java.math.BigInteger.valueOf(d));
        }
        return p;
    }
}
