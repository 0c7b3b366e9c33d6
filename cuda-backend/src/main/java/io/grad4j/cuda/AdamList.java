package io.grad4j.cuda;

import java.util.List;

/**
 * The kernels' {@code struct AdamList} (grad4j_kernels.cu): up to {@link #MAX} parameters of one
 * fused Adam step, by value as a kernel argument, 1,168 bytes of 64-bit slots: the count, then
 * the p, g, m and v addresses, the lengths, {@code MAX + 1} block starts, and per parameter its
 * step size and 1 / sqrt(1 - beta2^t) (as double bits) and its first-step flag. Blocks are given
 * per parameter as in {@link PairList}. The .cu file static_asserts the same offsets.
 */
final class AdamList {
    static final int MAX = 16;
    static final int P = 1;
    static final int G = P + MAX;
    static final int M = G + MAX;
    static final int V = M + MAX;
    static final int N = V + MAX;
    static final int BLOCK_START = N + MAX;
    static final int STEP_SIZE = BLOCK_START + MAX + 1;
    static final int INV_BC2 = STEP_SIZE + MAX;
    static final int FIRST = INV_BC2 + MAX;
    static final int LONGS = FIRST + MAX;

    private AdamList() {
    }

    /** The struct for parameters {@code [from, to)} (1 to {@link #MAX}, none empty, one dtype). */
    static long[] pack(List<CudaStorage> p, List<CudaStorage> g, List<CudaStorage> m, List<CudaStorage> v,
                       double[] stepSizes, double[] invBc2, boolean[] first, int from, int to) {
        int count = to - from;
        if (count < 1 || count > MAX) {
            throw new IllegalArgumentException("an Adam list holds 1 to " + MAX + " parameters, got " + count);
        }
        long[] s = new long[LONGS];
        s[0] = count;
        long blocks = 0;
        for (int t = 0; t < count; t++) {
            int i = from + t;
            CudaStorage param = p.get(i);
            long n = param.length();
            s[P + t] = param.address();
            s[G + t] = g.get(i).address();
            s[M + t] = m.get(i).address();
            s[V + t] = v.get(i).address();
            s[N + t] = n;
            s[BLOCK_START + t] = blocks;
            s[STEP_SIZE + t] = Double.doubleToRawLongBits(stepSizes[i]);
            s[INV_BC2 + t] = Double.doubleToRawLongBits(invBc2[i]);
            s[FIRST + t] = first[i] ? 1 : 0;
            blocks += PairList.blocksFor(param);
        }
        s[BLOCK_START + count] = blocks;
        return s;
    }

    /** The grid the packed list needs. */
    static int blocks(long[] packed) {
        return Math.toIntExact(packed[BLOCK_START + (int) packed[0]]);
    }
}
