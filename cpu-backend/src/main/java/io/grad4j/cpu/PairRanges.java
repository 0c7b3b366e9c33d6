package io.grad4j.cpu;

/**
 * Runs an update over several arrays (an optimizer's parameters) as one loop over their
 * concatenated elements, so that {@link ParallelLoops} splits the total evenly whatever the sizes
 * (the MLP's parameters range from 10 to 401,408 elements) and each thread gets pieces of one or
 * more arrays.
 */
final class PairRanges {
    /** Updates elements [from, to) of array number {@code index}. */
    @FunctionalInterface
    interface PieceBody {
        void run(int index, int from, int to);
    }

    private PairRanges() {
    }

    static void forEachPiece(ParallelLoops loops, int[] sizes, PieceBody body) {
        long[] starts = new long[sizes.length + 1];
        for (int i = 0; i < sizes.length; i++) {
            starts[i + 1] = starts[i] + sizes[i];
        }
        loops.forRange(starts[sizes.length], (from, to) -> {
            int i = containing(starts, from);
            long at = from;
            while (at < to) {
                long end = Math.min(to, starts[i + 1]);
                if (end > at) { // empty arrays between two pieces get no call
                    body.run(i, (int) (at - starts[i]), (int) (end - starts[i]));
                }
                at = end;
                i++;
            }
        });
    }

    /** The array holding global element {@code at} (0 <= at < total): skips empty arrays. */
    static int containing(long[] starts, long at) {
        // the first start greater than at, less one; starts[0] = 0 <= at < starts[last]
        int lo = 0;
        int hi = starts.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (starts[mid] <= at) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo - 1;
    }
}
