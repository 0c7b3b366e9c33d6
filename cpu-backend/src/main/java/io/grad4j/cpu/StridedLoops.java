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

    /** Tile side: 64 x 64 floats read from 64 columns touch 256 cache lines, 16 KiB, within L1. */
    static final int TILE = 64;

    /**
     * Whether the first operand is gathered along the last axis (a transpose): walking output rows
     * then reads one element per cache line, and whole lines are evicted before their neighbours
     * are read. Tiles read each line for 16 consecutive rows instead.
     */
    private static boolean gathers(StridedLayout c) {
        int rank = c.shape().length;
        return rank >= 2 && Math.abs(c.aStrides()[rank - 1]) > 1;
    }

    /**
     * A one-operand layout (a copy) run by run, as {@link #forEachRow(StridedLayout, ParallelLoops, Row)}
     * does, but in TILE x TILE blocks of the last two axes when the operand is gathered along the
     * last one: row receives each block's rows, the blocks shared between threads when the
     * output is long.
     */
    static void forEachRowInTiles(StridedLayout c, ParallelLoops loops, Row row) {
        if (!gathers(c) || c.elements() == 0) {
            forEachRow(c, loops, row);
            return;
        }
        int rank = c.shape().length;
        int[] sh = c.shape();
        long[] sa = c.aStrides();
        int rows = sh[rank - 2];
        int cols = sh[rank - 1];
        long matrices = c.elements() / ((long) rows * cols);
        int rowTiles = (rows + TILE - 1) / TILE;
        int colTiles = (cols + TILE - 1) / TILE;
        // one unit per tile, so that a short, wide output is shared as well as a tall one
        long tileArea = (long) Math.min(rows, TILE) * Math.min(cols, TILE);
        long minUnits = Math.max(1, Math.ceilDiv(ParallelLoops.MIN_ELEMENTS_PER_THREAD, tileArea));
        loops.forRange(matrices * rowTiles * colTiles, minUnits, 1, (from, to) -> {
            for (long unit = from; unit < to; unit++) {
                long matrix = unit / ((long) rowTiles * colTiles);
                int inMatrix = (int) (unit % ((long) rowTiles * colTiles));
                int r0 = inMatrix / colTiles * TILE;
                int c0 = inMatrix % colTiles * TILE;
                long aBase = 0;
                long rest = matrix;
                for (int ax = rank - 3; ax >= 0; ax--) { // the matrix's offset in a, last axis fastest
                    aBase += (rest % sh[ax]) * sa[ax];
                    rest /= sh[ax];
                }
                long out = matrix * rows * cols + (long) r0 * cols + c0;
                long at = aBase + r0 * sa[rank - 2] + c0 * sa[rank - 1];
                int n = Math.min(cols, c0 + TILE) - c0;
                for (int r = r0; r < Math.min(rows, r0 + TILE); r++) {
                    row.run((int) out, n, (int) at, (int) sa[rank - 1], 0, 0);
                    out += cols;
                    at += sa[rank - 2];
                }
            }
        });
    }

    /**
     * {@link #forEachRow(StridedLayout, Row)} shared between threads when the output is long:
     * one long run (a same-shape op) is cut into pieces, many runs (a bias add, a broadcast) are
     * dealt out by whole runs. Every output element is still written once, from the same operands.
     */
    static void forEachRow(StridedLayout c, ParallelLoops loops, Row row) {
        long elements = c.elements();
        int rank = c.shape().length;
        if (elements < 2 * ParallelLoops.MIN_ELEMENTS_PER_THREAD || rank == 0) {
            forEachRow(c, row);
            return;
        }
        int[] sh = c.shape();
        int inner = sh[rank - 1];
        int innerA = (int) c.aStrides()[rank - 1];
        int innerB = (int) c.bStrides()[rank - 1];
        if (rank == 1) {
            loops.forRange(inner, (from, to) -> row.run((int) from, (int) (to - from), (int) from * innerA, innerA,
                    (int) from * innerB, innerB));
            return;
        }
        long rows = elements / inner;
        long minRows = Math.max(1, Math.ceilDiv(ParallelLoops.MIN_ELEMENTS_PER_THREAD, inner));
        loops.forRange(rows, minRows, 1, (from, to) -> forRows(c, from, to, row));
    }

    /** Runs from (inclusive) to to (exclusive) of the collapsed layout, in order. */
    private static void forRows(StridedLayout c, long from, long to, Row row) {
        int rank = c.shape().length;
        int[] sh = c.shape();
        long[] sa = c.aStrides();
        long[] sb = c.bStrides();
        int inner = sh[rank - 1];
        int[] idx = new int[rank - 1];
        long aBase = 0;
        long bBase = 0;
        long rest = from;
        for (int ax = rank - 2; ax >= 0; ax--) { // the index of run `from`, last axis fastest
            idx[ax] = (int) (rest % sh[ax]);
            rest /= sh[ax];
            aBase += idx[ax] * sa[ax];
            bBase += idx[ax] * sb[ax];
        }
        int out = (int) (from * inner);
        for (long r = from; r < to; r++) {
            row.run(out, inner, (int) aBase, (int) sa[rank - 1], (int) bBase, (int) sb[rank - 1]);
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
        forRows(c, 0, c.elements() / c.shape()[rank - 1], row);
    }
}
