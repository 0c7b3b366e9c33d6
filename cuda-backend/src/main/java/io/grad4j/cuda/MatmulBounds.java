package io.grad4j.cuda;

import io.grad4j.backend.MatmulShape;

/** Host-side checks that a (batched) matmul stays inside its three storages. */
final class MatmulBounds {
    private MatmulBounds() {
    }

    static void check(MatmulShape s, long aLength, long bLength, long cLength) {
        long mn = (long) s.m() * s.n();
        if (cLength != s.batch() * mn) {
            throw new IllegalArgumentException("matmul: output has " + cLength + " elements, expected batch*m*n = "
                    + s.batch() + "*" + s.m() + "*" + s.n() + " (" + s + ")");
        }
        if (s.batch() == 0 || mn == 0 || s.k() == 0) {
            return;
        }
        if (s.batchStrideA() < 0 || s.batchStrideB() < 0) {
            throw new IllegalArgumentException("matmul: negative batch stride (" + s + ")");
        }
        long needA = (s.batch() - 1L) * s.batchStrideA() + (long) s.m() * s.k();
        long needB = (s.batch() - 1L) * s.batchStrideB() + (long) s.k() * s.n();
        if (needA > aLength) {
            throw new IllegalArgumentException("matmul: A needs " + needA + " elements but has " + aLength + " (" + s + ")");
        }
        if (needB > bLength) {
            throw new IllegalArgumentException("matmul: B needs " + needB + " elements but has " + bLength + " (" + s + ")");
        }
    }
}
