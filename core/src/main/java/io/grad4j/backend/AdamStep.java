package io.grad4j.backend;

/**
 * The constants of one Adam or AdamW step over several parameters ({@link Backend#adamEach}), as
 * PyTorch formulates them: {@code decoupled} is AdamW (the parameter shrinks by
 * {@code 1 - lr * weightDecay} first), otherwise weight decay is added to the gradient. Per
 * parameter the backend also gets its step size {@code lr / (1 - beta1^t)}, the reciprocal of
 * {@code sqrt(1 - beta2^t)}, and whether this is its first step (its moments then start at zero
 * and are not read).
 */
public record AdamStep(double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {

    /** Refuses lists of different lengths, naming every length: the arguments of one adamEach call. */
    public static void checkCounts(String op, int params, int grads, int m, int v, int stepSizes, int invBc2, int first) {
        if (grads != params || m != params || v != params || stepSizes != params || invBc2 != params || first != params) {
            throw new IllegalArgumentException(op + ": " + params + " parameters but " + grads + " gradients, " + m + "/" + v
                    + " moment buffers, " + stepSizes + "/" + invBc2 + " step constants, " + first + " first-step flags");
        }
    }
}
