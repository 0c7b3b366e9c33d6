package io.grad4j.cpu;

/**
 * Walks a contiguous output of some shape while reading operands at element strides. Axes are
 * first collapsed where every operand is contiguous across them (so a same-shape op is one flat
 * row and a bias add is rows of length n), then the last axis runs as a tight inner loop.
 */
final class StridedLoops {
    private StridedLoops() {
    }

    /** Receives one run of the innermost axis: n elements, operands at offsets and strides. */
    interface Row {
        void run(int outOffset, int n, int aOffset, int aStride, int bOffset, int bStride);
    }

    /** A shape and per-operand strides after merging axes that are contiguous for every operand. */
    record Collapsed(int[] shape, long[] aStrides, long[] bStrides) {
    }

    static Collapsed collapse(int[] shape, long[] aStrides, long[] bStrides) {
        int rank = shape.length;
        int[] s = new int[rank];
        long[] sa = new long[rank];
        long[] sb = new long[rank];
        int r = 0;
        for (int i = 0; i < rank; i++) {
            if (shape[i] == 1) {
                continue; // a size-1 axis moves nothing
            }
            if (r > 0 && sa[r - 1] == aStrides[i] * shape[i] && sb[r - 1] == bStrides[i] * shape[i]) {
                s[r - 1] *= shape[i];
                sa[r - 1] = aStrides[i];
                sb[r - 1] = bStrides[i];
            } else {
                s[r] = shape[i];
                sa[r] = aStrides[i];
                sb[r] = bStrides[i];
                r++;
            }
        }
        return new Collapsed(java.util.Arrays.copyOf(s, r), java.util.Arrays.copyOf(sa, r), java.util.Arrays.copyOf(sb, r));
    }

    /** Calls row for every run of the innermost axis of {@code shape} (b may be absent: strides of zeros). */
    static void forEachRow(int[] shape, long[] aStrides, long[] bStrides, Row row) {
        for (int d : shape) {
            if (d == 0) {
                return;
            }
        }
        Collapsed c = collapse(shape, aStrides, bStrides);
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
