package io.grad4j.optim;

/**
 * Decays the learning rate by {@code gamma} every {@code stepSize} epochs, PyTorch's
 * {@code StepLR} in closed form: {@code lr(epoch) = baseLr * gamma^floor(epoch / stepSize)}.
 */
public final class StepLR implements LearningRateSchedule {
    private final double baseLr;
    private final int stepSize;
    private final double gamma;

    public StepLR(double baseLr, int stepSize, double gamma) {
        if (!(baseLr >= 0) || Double.isInfinite(baseLr) || stepSize <= 0 || !(gamma > 0) || Double.isInfinite(gamma)) {
            throw new IllegalArgumentException("StepLR needs finite baseLr >= 0, stepSize > 0 and finite gamma > 0; got baseLr="
                    + baseLr + " stepSize=" + stepSize + " gamma=" + gamma);
        }
        this.baseLr = baseLr;
        this.stepSize = stepSize;
        this.gamma = gamma;
    }

    @Override
    public double lr(int epoch) {
        if (epoch < 0) {
            throw new IllegalArgumentException("StepLR: epoch must be >= 0, got " + epoch);
        }
        return baseLr * Math.pow(gamma, epoch / stepSize);
    }
}
