package io.grad4j.optim;

/**
 * nanoGPT's get_lr, a learning rate per step i: a linear warm-up maxLr (i + 1) / (warmupSteps + 1)
 * for i < warmupSteps, then a cosine from maxLr down to minLr at totalSteps, and minLr after.
 */
public final class WarmupCosineLR implements LearningRateSchedule {
    private final double maxLr;
    private final int warmupSteps;
    private final int totalSteps;
    private final double minLr;

    public WarmupCosineLR(double maxLr, int warmupSteps, int totalSteps, double minLr) {
        if (!(maxLr >= 0) || Double.isInfinite(maxLr) || !(minLr >= 0) || Double.isInfinite(minLr) || minLr > maxLr
                || warmupSteps < 0 || totalSteps <= warmupSteps) {
            throw new IllegalArgumentException("WarmupCosineLR needs finite 0 <= minLr <= maxLr and 0 <= warmupSteps <"
                    + " totalSteps; got maxLr=" + maxLr + " warmupSteps=" + warmupSteps + " totalSteps=" + totalSteps
                    + " minLr=" + minLr);
        }
        this.maxLr = maxLr;
        this.warmupSteps = warmupSteps;
        this.totalSteps = totalSteps;
        this.minLr = minLr;
    }

    @Override
    public double lr(int step) {
        if (step < 0) {
            throw new IllegalArgumentException("WarmupCosineLR: step must be >= 0, got " + step);
        }
        if (step < warmupSteps) {
            return maxLr * (step + 1) / (warmupSteps + 1);
        }
        if (step > totalSteps) {
            return minLr;
        }
        double ratio = (double) (step - warmupSteps) / (totalSteps - warmupSteps);
        double coefficient = 0.5 * (1.0 + Math.cos(Math.PI * ratio));
        return minLr + coefficient * (maxLr - minLr);
    }
}
