package io.grad4j.cpu;

import io.grad4j.backend.StridedLayout;

/**
 * Walks a contiguous output while reading operands at element strides, over a layout whose axes
 * are already merged where every operand is contiguous (a same-shape op is one flat row, a bias add
 * rows of length n); the last axis runs as a tight inner loop.
 */
final class StridedLoops {
    private StridedLoops() {
    }

    /** Receives one run of the innermost axis: n elements, operands at offsets and strides. */
    interface Row {
        void run(int outOffset, int n, int aOffset, int aStride, int bOffset, int bStride);
    }

    /**
     * Calls row for every run of the innermost axis of the collapsed layout (see
     * {@link StridedLayout}, which also checked every read against the operands' lengths).
     */
    static void forEachRow(StridedLayout c, Row row) {
        if (c.elements() == 0) {
            return;
        }
        int rank = c.shape().length;
        if (rank == 0) {
            row.run(0, 1, 0, 0, 0, 0);
            return;
        }
        int[] sh = c.shape();
        long[] sa = c.aStrides();
        long[] sb = c.bStrides();
        int inner = sh[rank - 1];
        int innerA = (int) sa[rank - 1];
        int innerB = (int) sb[rank - 1];
        long rows = 1;
        for (int i = 0; i < rank - 1; i++) {
            rows *= sh[i];
        }
        int[] idx = new int[rank - 1];
        long aBase = 0;
        long bBase = 0;
        int out = 0;
        for (long r = 0; r < rows; r++) {
            row.run(out, inner, (int) aBase, innerA, (int) bBase, innerB);
            out += inner;
            for (int ax = rank - 2; ax >= 0; ax--) {
                idx[ax]++;
                aBase += sa[ax];
                bBase += sb[ax];
                if (idx[ax] < sh[ax]) {
                    break;
                }
                aBase -= sa[ax] * sh[ax];
                bBase -= sb[ax] * sh[ax];
                idx[ax] = 0;
            }
        }
    }
}
