package io.grad4j.data;

import io.grad4j.Tensor;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Batches over a dataset, optionally shuffled by a seed: epoch e uses the permutation drawn from
 * (seed, e), so a run is reproducible and can resume mid-way. Every example appears exactly once
 * per epoch; the last batch is partial unless {@code dropLast}.
 */
public final class DataLoader {
    private final Dataset dataset;
    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private final boolean dropLast;

    public DataLoader(Dataset dataset, int batchSize, boolean shuffle, long seed) {
        this(dataset, batchSize, shuffle, seed, false);
    }

    public DataLoader(Dataset dataset, int batchSize, boolean shuffle, long seed, boolean dropLast) {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("DataLoader: batch size must be > 0, got " + batchSize);
        }
        if (dataset.size() == 0) {
            throw new IllegalArgumentException("DataLoader: the dataset is empty");
        }
        if (dropLast && batchSize > dataset.size()) {
            throw new IllegalArgumentException("DataLoader: batch size " + batchSize + " is larger than the dataset's "
                    + dataset.size() + " examples, and dropLast would drop the only, partial batch: an epoch of nothing");
        }
        this.dataset = dataset;
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
        this.dropLast = dropLast;
    }

    /**
     * Full batches, plus the partial last one unless {@code dropLast}. A batch size larger than
     * the dataset gives one batch of the whole dataset. (Computed without {@code n + batchSize - 1},
     * which overflowed for a batch size near Integer.MAX_VALUE and made an epoch of no batches.)
     */
    public int batchesPerEpoch() {
        int n = dataset.size();
        int full = n / batchSize;
        return dropLast || n % batchSize == 0 ? full : full + 1;
    }

    /** The example order of an epoch. */
    public int[] order(int epoch) {
        int n = dataset.size();
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        if (shuffle) {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed * 1_000_003L + epoch);
            for (int i = n - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
        }
        return idx;
    }

    /** The batches of one epoch; tensors are created on the current backend as they are reached. */
    public Iterable<Batch> epoch(int epoch) {
        int[] order = order(epoch);
        int batches = batchesPerEpoch();
        int features = dataset.features();
        return () -> new Iterator<>() {
            private int b;

            @Override
            public boolean hasNext() {
                return b < batches;
            }

            @Override
            public Batch next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                int start = b * batchSize; // < order.length, so no overflow: b < batchesPerEpoch()
                int n = Math.min(batchSize, order.length - start);
                long values = (long) n * features;
                if (values > Integer.MAX_VALUE - 8) {
                    throw new IllegalArgumentException("DataLoader: a batch of " + n + " examples of " + features
                            + " features is " + values + " values, more than one Java array holds; use a smaller batch size");
                }
                float[] x = new float[(int) values];
                int[] labels = new int[n];
                for (int i = 0; i < n; i++) {
                    int ex = order[start + i];
                    dataset.copyFeatures(ex, x, i * features);
                    labels[i] = dataset.label(ex);
                }
                b++;
                return new Batch(Tensor.of(x, n, features), labels);
            }
        };
    }
}
