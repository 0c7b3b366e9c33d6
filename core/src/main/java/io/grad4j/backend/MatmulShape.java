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

    /** Leading dimension of A as stored (row-major). */
    public int lda() {
        return transposeA ? m : k;
    }

    /** Leading dimension of B as stored (row-major). */
    public int ldb() {
        return transposeB ? k : n;
    }
}
