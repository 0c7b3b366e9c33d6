package io.grad4j.optim;

/**
 * Cosine annealing from {@code baseLr} at epoch 0 to {@code etaMin} at epoch {@code tMax},
 * PyTorch's {@code CosineAnnealingLR} in closed form:
 * {@code lr(epoch) = etaMin + (baseLr - etaMin) * (1 + cos(pi * epoch / tMax)) / 2}.
 * Past {@code tMax} the cosine continues (the rate rises again), as PyTorch's closed form does.
 */
public final class CosineAnnealingLR implements LearningRateSchedule {
    private final double baseLr;
    private final int tMax;
    private final double etaMin;

    public CosineAnnealingLR(double baseLr, int tMax, double etaMin) {
        if (!(baseLr >= 0) || Double.isInfinite(baseLr) || tMax <= 0 || !(etaMin >= 0) || Double.isInfinite(etaMin)) {
            throw new IllegalArgumentException("CosineAnnealingLR needs finite baseLr >= 0, tMax > 0 and finite etaMin >= 0;"
                    + " got baseLr=" + baseLr + " tMax=" + tMax + " etaMin=" + etaMin);
        }
        this.baseLr = baseLr;
        this.tMax = tMax;
        this.etaMin = etaMin;
    }

    @Override
    public double lr(int epoch) {
        if (epoch < 0) {
            throw new IllegalArgumentException("CosineAnnealingLR: epoch must be >= 0, got " + epoch);
        }
        return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2;
    }
}
