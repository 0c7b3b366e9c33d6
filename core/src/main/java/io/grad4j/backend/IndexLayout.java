package io.grad4j.backend;

import java.util.Arrays;

/**
 * For backends: the arguments of {@link Backend#gather} and {@link Backend#scatterAdd} checked
 * once, before a kernel reads or writes anything. The indexed tensor is viewed as
 * [outer, axis, inner], the gathered one as [outer, count, inner]; the INT64 index is read at
 * {@code index[o * s0 + j * s1 + i * s2]} (strides 0 broadcast it: an indexSelect reads one
 * index row for every o and i). The indices themselves are checked by the backend as it reads
 * them, since only it sees their values.
 */
public record IndexLayout(long outer, int axis, int count, long inner) {

    /**
     * @param indexedLength the length of the [outer, axis, inner] storage (gather's source,
     *                      scatterAdd's destination)
     * @param gatheredLength the length of the [outer, count, inner] storage (gather's output,
     *                       scatterAdd's source)
     */
    public static IndexLayout of(String op, long outer, int axis, int count, long inner, long indexedLength,
                                 long gatheredLength, long indexLength, long[] indexStrides) {
        if (outer < 0 || axis < 0 || count < 0 || inner < 0) {
            throw new IllegalArgumentException(op + ": negative sizes [outer=" + outer + ", axis=" + axis + ", count="
                    + count + ", inner=" + inner + "]");
        }
        long indexed = product(op, outer, axis, inner);
        long gathered = product(op, outer, count, inner);
        if (indexed != indexedLength) {
            throw new IllegalArgumentException(op + ": the indexed storage has " + indexedLength + " elements, not the "
                    + indexed + " of [" + outer + ", " + axis + ", " + inner + "]");
        }
        if (gathered != gatheredLength) {
            throw new IllegalArgumentException(op + ": the gathered storage has " + gatheredLength
                    + " elements, not the " + gathered + " of [" + outer + ", " + count + ", " + inner + "]");
        }
        if (indexStrides == null || indexStrides.length != 3) {
            throw new IllegalArgumentException(op + ": index strides must be 3 (outer, count, inner), got "
                    + Arrays.toString(indexStrides));
        }
        if (gathered == 0) {
            return new IndexLayout(outer, axis, count, inner);
        }
        long last = 0;
        long[] sizes = {outer, count, inner};
        for (int k = 0; k < 3; k++) {
            if (indexStrides[k] < 0) {
                throw new IllegalArgumentException(op + ": negative index stride " + indexStrides[k]);
            }
            last = Math.addExact(last, Math.multiplyExact(sizes[k] - 1, indexStrides[k]));
        }
        if (last >= indexLength) {
            throw new IllegalArgumentException(op + ": index strides " + Arrays.toString(indexStrides) + " over ["
                    + outer + ", " + count + ", " + inner + "] reach element " + last + " of an index of "
                    + indexLength);
        }
        if (axis == 0) {
            throw new IndexOutOfBoundsException(op + ": " + gathered + " elements index an axis of size 0");
        }
        return new IndexLayout(outer, axis, count, inner);
    }

    private static long product(String op, long a, long b, long c) {
        try {
            return Math.multiplyExact(Math.multiplyExact(a, b), c);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(op + ": [" + a + ", " + b + ", " + c + "] overflows a long");
        }
    }

    /** The message of an index found outside [0, axis) (backends throw it as an IndexOutOfBoundsException). */
    public static String outOfRange(String op, long index, long axis) {
        return op + ": index " + index + " is out of range for an axis of size " + axis;
    }
}
