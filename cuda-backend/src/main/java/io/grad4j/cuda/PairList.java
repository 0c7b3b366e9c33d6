package io.grad4j.cuda;

import java.util.List;

/**
 * The kernels' {@code struct PairList} (grad4j_kernels.cu), which carries up to {@link #MAX}
 * (x, y) pairs of one multi-tensor kernel (axpby_list, copy_list) by value as a kernel argument: the count, then the x
 * addresses, the y addresses, the lengths (32 slots each) and 33 block starts, all 64-bit, 1,040
 * bytes. Blocks {@code [blockStart[t], blockStart[t + 1])} of the grid update pair t, as many as
 * one-thread-per-16-bytes would need, at most {@link #BLOCKS_PER_PAIR} (grid-stride beyond).
 * The .cu file static_asserts the same offsets.
 */
final class PairList {
    static final int MAX = 32;
    static final long BLOCKS_PER_PAIR = 4096;
    static final int THREADS = 256;
    static final int LONGS = 1 + 4 * MAX + 1;
    static final int X = 1;
    static final int Y = X + MAX;
    static final int N = Y + MAX;
    static final int BLOCK_START = N + MAX;

    private PairList() {
    }

    /** The struct for pairs {@code [from, to)} of xs/ys (at most {@link #MAX}, none empty, one dtype). */
    static long[] pack(List<CudaStorage> xs, List<CudaStorage> ys, int from, int to) {
        int count = to - from;
        if (count < 1 || count > MAX) {
            throw new IllegalArgumentException("an axpby list holds 1 to " + MAX + " pairs, got " + count);
        }
        long[] s = new long[LONGS];
        s[0] = count;
        long blocks = 0;
        for (int t = 0; t < count; t++) {
            CudaStorage x = xs.get(from + t);
            CudaStorage y = ys.get(from + t);
            long n = y.length();
            s[X + t] = x.address();
            s[Y + t] = y.address();
            s[N + t] = n;
            s[BLOCK_START + t] = blocks;
            blocks += blocksFor(y);
        }
        s[BLOCK_START + count] = blocks;
        return s;
    }

    /** Blocks for one tensor of a multi-tensor kernel: a 16-byte vector per thread, at most {@link #BLOCKS_PER_PAIR}. */
    static long blocksFor(CudaStorage s) {
        long perThread = 16 / CudaStorage.elementSize(s.dtype());
        return Math.max(1, Math.min(Math.ceilDiv(s.length(), THREADS * perThread), BLOCKS_PER_PAIR));
    }

    /** The grid the packed list needs: one block range per pair. */
    static int blocks(long[] packed) {
        return Math.toIntExact(packed[BLOCK_START + (int) packed[0]]);
    }
}
