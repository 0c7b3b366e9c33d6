package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.List;

/**
 * Inverted dropout, as PyTorch's {@code nn.Dropout}: in training mode each element is zeroed with
 * probability p and the kept ones are scaled by 1/(1-p), so the expected output equals the input;
 * in evaluation mode it is the identity. The output is {@code x * mask} with mask values 0 or
 * 1/(1-p), so the gradient flows only through the kept elements, scaled the same way.
 *
 * <p>Masks are reproducible: the n-th training-mode call (n = 0, 1, ...) keeps element i when
 * {@code u_i >= p}, where u = {@code Tensor.rand(FLOAT64, seed + 0x9E3779B97F4A7C15L * (n + 1), x.shape())};
 * the same seed gives the same masks on every backend and for either dtype. Evaluation-mode calls
 * do not advance n. The mask is drawn by the backend where it multiplies ({@link Tensor#dropout}):
 * on a GPU nothing crosses to the host.
 */
public final class Dropout implements Module {
    private final double p;
    private final long seed;
    private long calls;
    private boolean training = true;

    public Dropout(double p, long seed) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("Dropout: p must lie in [0, 1), got p=" + p
                    + " (p is the probability of zeroing an element; p = 1 would zero everything)");
        }
        this.p = p;
        this.seed = seed;
    }

    /** The probability of zeroing an element in training mode. */
    public double p() {
        return p;
    }

    @Override
    public void train(boolean on) {
        training = on;
    }

    public boolean isTraining() {
        return training;
    }

    /** Training calls made so far; the next mask is the one drawn for this count. */
    public long calls() {
        return calls;
    }

    /** Continues the mask sequence from {@code calls} (a resumed run restores it from its checkpoint). */
    public void resumeAt(long calls) {
        if (calls < 0) {
            throw new IllegalArgumentException("Dropout.resumeAt: calls must be >= 0, got " + calls);
        }
        this.calls = calls;
    }

    /** The seed of the n-th training call's mask: distinct streams per call, fixed by (seed, n). */
    static long callSeed(long seed, long n) {
        return seed + 0x9E3779B97F4A7C15L * (n + 1);
    }

    @Override
    public Tensor forward(Tensor x) {
        if (!training) {
            return x;
        }
        long n = calls++;
        if (p == 0) {
            return x;
        }
        return x.dropout(p, callSeed(seed, n));
    }

    @Override
    public List<Tensor> parameters() {
        return List.of();
    }
}
