package io.grad4j.backend;

/**
 * Shape of a (batched) row-major matrix product {@code C[i] = op(A[i]) @ op(B[i])} for
 * {@code i < batch}, where {@code op} transposes when the flag is set. {@code op(A)} is m x k,
 * {@code op(B)} is k x n and C is m x n, contiguous, batch after batch. A is stored as m x k
 * (k x m when transposed), B as k x n (n x k when transposed). A batch stride of 0 reuses one
 * matrix for every batch entry (broadcasting), which is how [b,m,k] @ [k,n] runs without copies.
 */
public record MatmulShape(int batch, int m, int n, int k, boolean transposeA, boolean transposeB,
                          long batchStrideA, long batchStrideB) {
    public MatmulShape {
        if (batch < 0 || m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("matmul sizes must be >= 0, got batch=" + batch
                    + " m=" + m + " n=" + n + " k=" + k);
        }
    }

    /**
     * Checks that the whole batched product stays inside its three buffers (of these lengths, in
     * elements) before a backend hands the sizes to native code (cblas, cuBLAS, a kernel), which
     * would otherwise read or write past them: C must hold batch*m*n elements, A and B what the
     * batch strides and m, n, k reach. All arithmetic is overflow-checked. Throws an
     * IllegalArgumentException naming {@code call} and the sizes.
     */
    public void checkBounds(String call, long aLength, long bLength, long cLength) {
        long products = ElementCount.times(call + ": batch*m", batch, m, Long.MAX_VALUE, "a long");
        long cNeeded = ElementCount.times(call + ": batch*m*n", products, n, Long.MAX_VALUE, "a long");
        if (cLength != cNeeded) {
            throw new IllegalArgumentException(call + ": output has " + cLength + " elements, expected batch*m*n = "
                    + batch + "*" + m + "*" + n + " = " + cNeeded + " (" + this + ")");
        }
        if (batch == 0 || (long) m * n == 0 || k == 0) {
            return; // nothing of A or B is read
        }
        if (batchStrideA < 0 || batchStrideB < 0) {
            throw new IllegalArgumentException(call + ": negative batch stride (" + this + ")");
        }
        ElementCount.requireInside(call, "A", aLength, 0, lastOffset(call + ": A", batchStrideA, (long) m * k));
        ElementCount.requireInside(call, "B", bLength, 0, lastOffset(call + ": B", batchStrideB, (long) k * n));
    }

    /** (batch - 1) * stride + one matrix: the elements the batch reaches from the first one. */
    private long lastOffset(String what, long stride, long matrix) {
        long strides = ElementCount.times(what + " batch stride", batch - 1L, stride, Long.MAX_VALUE - matrix, "a long");
        return strides + matrix;
    }

    /** Elements of A one product reads, from its start: op(A) is m x k. */
    public long elementsOfA() {
        return (long) m * k;
    }

    /** Elements of B one product reads, from its start: op(B) is k x n. */
    public long elementsOfB() {
        return (long) k * n;
    }

    /** Leading dimension of A as stored (row-major). */
    public int lda() {
        return transposeA ? m : k;
    }

    /** Leading dimension of B as stored (row-major). */
    public int ldb() {
        return transposeB ? k : n;
    }
}
