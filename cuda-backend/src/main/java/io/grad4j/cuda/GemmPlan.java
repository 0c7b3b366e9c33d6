package io.grad4j.cuda;

import io.grad4j.backend.MatmulShape;

/**
 * How the builtin kernels compute one matmul: which kernel (and so which output tile), and into
 * how many k-slices the product is split.
 *
 * <p>Kernels (grad4j_kernels.cu): {@code gemm_f64} and {@code gemm_f32} use 64 x 64 tiles;
 * {@code gemm128_f32} uses 128 x 128 tiles with 8 x 8 outputs per thread, twice the arithmetic
 * per shared-memory load, and is the one that can approach cuBLAS on large products;
 * {@code gemm_tf32} (opt-in, {@value #TF32_PROPERTY}) runs 128 x 128 tiles on the tensor cores.
 *
 * <p>Split-K: a product with few output tiles but a long k, the weight gradient {@code X^T G} of
 * a large batch above all (784 x 512 outputs, k = 8192: 28 tiles of 128 for 132 SMs), would keep
 * most of the GPU idle. Such a product is cut into {@code splits} k-ranges of {@code kChunk}
 * elements, computed as separate blocks into a workspace, and added up by
 * {@code gemm_splitk_sum} in slice order, so results stay deterministic.
 *
 * <p>The thresholds below are design choices from the kernels' shapes (two 128-tile blocks fit on
 * an SM, so about two blocks per SM fill the GPU); they have not yet been tuned on a GPU.
 */
record GemmPlan(String kernel, int tile, int splits, int kChunk) {
    static final String TF32_PROPERTY = "grad4j.cuda.tf32";

    /** Blocks per SM that fill the GPU with the 128-tile kernels (two fit in registers). */
    static final int BLOCKS_PER_SM = 2;
    /** The shortest k-slice worth a block: below it the block's start-up and the extra pass dominate. */
    static final int MIN_SLICE = 256;
    static final int MAX_SPLITS = 64;
    /** Workspace cap: split-K partials of at most this many bytes (taken from the caching allocator). */
    static final long MAX_WORKSPACE_BYTES = 256L << 20;
    /** kChunk is a multiple of every kernel's k step (8 and 16), so slices start on whole tiles. */
    static final int K_STEP = 16;

    /**
     * Whether the kernel takes a bias to add as it writes C (its fifth argument): the 64-tile
     * kernels do, the 128-tile ones (gemm128_f32, gemm_tf32) hold every register up to their
     * stores and do not. gemm_splitk_sum always takes one (null for none).
     */
    boolean addsBias() {
        return tile == 64;
    }

    /** The plan for {@code s} on a device with {@code sms} multiprocessors. */
    static GemmPlan choose(MatmulShape s, boolean isFloat32, boolean tf32, int sms) {
        String kernel;
        int tile;
        if (!isFloat32) {
            kernel = "gemm_f64";
            tile = 64;
        } else if (tf32) {
            kernel = "gemm_tf32";
            tile = 128;
        } else if (Math.min(s.m(), s.n()) > 64 && canFill(s, 128, sms)) {
            kernel = "gemm128_f32";
            tile = 128;
        } else {
            // a thin product (a classifier layer) would leave most of a 128 tile empty, and a small
            // one (a small batch's layer) would run on a handful of SMs: four times the blocks
            kernel = "gemm_f32";
            tile = 64;
        }
        long blocks = (long) Math.ceilDiv(s.m(), tile) * Math.ceilDiv(s.n(), tile) * s.batch();
        long target = (long) BLOCKS_PER_SM * Math.max(1, sms);
        int splits = 1;
        // split only when some SMs would get no block at all: with a block for every SM, the
        // workspace and its extra pass cost more than the idle half-occupancy they would fill
        if (blocks > 0 && blocks < Math.max(1, sms) && s.k() >= 2 * MIN_SLICE) { // an empty product has no k to split
            long wanted = Math.ceilDiv(target, blocks);
            splits = (int) Math.min(Math.min(wanted, s.k() / MIN_SLICE), MAX_SPLITS);
            long bytesPerSplit = (long) s.m() * s.n() * s.batch() * (isFloat32 ? Float.BYTES : Double.BYTES);
            splits = (int) Math.max(1, Math.min(splits, MAX_WORKSPACE_BYTES / Math.max(1, bytesPerSplit)));
        }
        int kChunk = roundUp(Math.ceilDiv(s.k(), splits), K_STEP);
        splits = Math.ceilDiv(s.k(), kChunk); // rounding kChunk up may leave fewer, never empty, slices
        return new GemmPlan(kernel, tile, splits, kChunk);
    }

    /** Whether tiles of this size, split along k as far as {@link #choose} would, give every SM a block. */
    private static boolean canFill(MatmulShape s, int tile, int sms) {
        long blocks = (long) Math.ceilDiv(s.m(), tile) * Math.ceilDiv(s.n(), tile) * s.batch();
        long maxSplits = s.k() >= 2 * MIN_SLICE ? Math.min(s.k() / MIN_SLICE, MAX_SPLITS) : 1;
        return blocks * maxSplits >= sms;
    }

    /** Elements of the split-K workspace ({@code splits} partial products per batch entry); 0 without split. */
    long workspaceElements(MatmulShape s) {
        return splits == 1 ? 0 : (long) splits * s.batch() * s.m() * s.n();
    }

    /** Row tiles per launch: grid y is at most 65535 (a thin product with millions of rows needs several). */
    static final int ROW_TILES_PER_LAUNCH = 65535;

    /** Batch entries per launch: grid z holds (batch entry, slice) pairs and is at most 65535. */
    long batchesPerLaunch() {
        return 65535 / splits;
    }

    /**
     * The kernels' {@code struct GemmArgs} by value: ten 32-bit ints (transA, transB, m, n, k,
     * lda, ldb, splits, kChunk, rowTileBase), then strideA, strideB and batchBase as 64-bit ints;
     * 64 bytes, little-endian, packed in longs because a long[] is what the launcher passes as raw
     * bytes. The .cu file static_asserts the same offsets.
     */
    long[] kernelArgs(MatmulShape s, long batchBase, int rowTileBase) {
        return new long[]{
                pair(s.transposeA() ? 1 : 0, s.transposeB() ? 1 : 0),
                pair(s.m(), s.n()),
                pair(s.k(), s.lda()),
                pair(s.ldb(), splits),
                pair(kChunk, rowTileBase),
                s.batchStrideA(),
                s.batchStrideB(),
                batchBase};
    }

    private static long pair(int low, int high) {
        return (low & 0xffffffffL) | ((long) high << 32);
    }

    private static int roundUp(int v, int step) {
        return Math.ceilDiv(v, step) * step;
    }
}
