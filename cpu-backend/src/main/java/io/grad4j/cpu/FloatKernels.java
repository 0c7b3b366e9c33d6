package io.grad4j.cpu;

import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.UnaryOp;

/**
 * FLOAT32 loops. The switch on the operation sits outside each loop so every loop body is a
 * straight line the JIT can vectorise; transcendental functions fall back to the scalar formulas
 * of {@link UnaryOp} computed in double.
 */
final class FloatKernels {
    private FloatKernels() {
    }

    /** y = a * x + b * y over elements [from, to): each product rounded on its own (no FMA). */
    static void axpby(float a, float[] x, float b, float[] y, int from, int to) {
        for (int i = from; i < to; i++) {
            y[i] = a * x[i] + b * y[i];
        }
    }

    /** out = op(x) over elements [from, to). */
    static void unary(UnaryOp op, float p, float[] x, float[] out, int from, int to) {
        switch (op) {
            case NEG -> {
                for (int i = from; i < to; i++) {
                    out[i] = -x[i];
                }
            }
            case RELU -> {
                for (int i = from; i < to; i++) {
                    out[i] = Math.max(x[i], 0f);
                }
            }
            case ABS -> {
                for (int i = from; i < to; i++) {
                    out[i] = Math.abs(x[i]);
                }
            }
            case ADD_SCALAR -> {
                for (int i = from; i < to; i++) {
                    out[i] = x[i] + p;
                }
            }
            case MUL_SCALAR -> {
                for (int i = from; i < to; i++) {
                    out[i] = x[i] * p;
                }
            }
            case SQRT -> {
                for (int i = from; i < to; i++) {
                    out[i] = (float) Math.sqrt(x[i]);
                }
            }
            case TANH -> {
                for (int i = from; i < to; i++) {
                    out[i] = tanh(x[i]);
                }
            }
            case SIGMOID -> {
                // sigmoid(x) = (1 + tanh(x/2)) / 2: the same vectorised rational, no exp
                for (int i = from; i < to; i++) {
                    out[i] = 0.5f + 0.5f * tanh(0.5f * x[i]);
                }
            }
            case ERF -> {
                for (int i = from; i < to; i++) {
                    out[i] = erf(x[i]);
                }
            }
            case GELU -> {
                for (int i = from; i < to; i++) {
                    float v = x[i];
                    out[i] = v * 0.5f * (1f + erf(v * SQRT1_2));
                }
            }
            default -> {
                for (int i = from; i < to; i++) {
                    out[i] = (float) op.apply(x[i], p);
                }
            }
        }
    }

    private static final float SQRT1_2 = 0.70710678f;
    private static final float TWO_OVER_SQRT_PI = 1.1283791671f;
    private static final float NORMAL_DENSITY = 0.39894228040f;

    /**
     * erf in float precision, for FLOAT32 GELU on the cpu (UnaryOp.erf's double series costs about
     * 80 ns a call, which made GELU the largest cost of a small GPT's step): below 0.5 its Taylor
     * series to x^11; above, 1 - erfc with Numerical Recipes' Chebyshev fit of erfc (fractional
     * error under 1.2e-7). Within 1.6e-7 relative of the double-precision erf on [-6, 6].
     */
    static float erf(float x) {
        float a = Math.abs(x);
        if (a < 0.5f) {
            float x2 = x * x;
            return x * (TWO_OVER_SQRT_PI + x2 * (-0.37612638903f + x2 * (0.11283791671f + x2 * (-0.02686617064f
                    + x2 * (0.00522397762f + x2 * -0.00085483270f)))));
        }
        double t = 1.0 / (1.0 + 0.5 * a);
        double erfc = t * Math.exp(-(double) a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return (float) Math.copySign(1.0 - erfc, x);
    }

    // Rational minimax approximation of tanh on [-7.9053, 7.9053] (beyond it tanh rounds to +-1
    // in float): an odd degree-13 polynomial over an even degree-6 one, the form Eigen and XLA use.
    // Only multiplies, adds, one divide and a clamp, so C2 vectorises the loop; max error a few
    // float ulps: max abs error 3.5e-7 against Math.tanh over [-10, 10] in 1e-4 steps.
    private static final float TANH_CLAMP = 7.90531110763549805f;
    private static final float A1 = 4.89352455891786e-03f;
    private static final float A3 = 6.37261928875436e-04f;
    private static final float A5 = 1.48572235717979e-05f;
    private static final float A7 = 5.12229709037114e-08f;
    private static final float A9 = -8.60467152213735e-11f;
    private static final float A11 = 2.00018790482477e-13f;
    private static final float A13 = -2.76076847742355e-16f;
    private static final float B0 = 4.89352518554385e-03f;
    private static final float B2 = 2.26843463243900e-03f;
    private static final float B4 = 1.18534705686654e-04f;
    private static final float B6 = 1.19825839466702e-06f;

    static float tanh(float v) {
        float x = Math.max(-TANH_CLAMP, Math.min(TANH_CLAMP, v));
        float x2 = x * x;
        float p = x2 * A13 + A11;
        p = x2 * p + A9;
        p = x2 * p + A7;
        p = x2 * p + A5;
        p = x2 * p + A3;
        p = x2 * p + A1;
        p = x * p;
        float q = x2 * B6 + B4;
        q = x2 * q + B2;
        q = x2 * q + B0;
        return p / q;
    }

    /** out = g * op'(x, y) over elements [from, to). */
    static void unaryBackward(UnaryOp op, float p, float[] x, float[] y, float[] g, float[] out, int from, int to) {
        switch (op) {
            case RELU -> {
                // max(0, signum(x)) is [x > 0] (and NaN for NaN) without a branch: C2 vectorises it,
                // where the ternary ran 33x slower on random signs (branch mispredictions)
                for (int i = from; i < to; i++) {
                    out[i] = g[i] * Math.max(0f, Math.signum(x[i]));
                }
            }
            case TANH -> {
                for (int i = from; i < to; i++) {
                    float t = y[i];
                    out[i] = g[i] * (1f - t * t);
                }
            }
            case SIGMOID -> {
                for (int i = from; i < to; i++) {
                    float s = y[i];
                    out[i] = g[i] * s * (1f - s);
                }
            }
            case EXP -> {
                for (int i = from; i < to; i++) {
                    out[i] = g[i] * y[i];
                }
            }
            case NEG -> {
                for (int i = from; i < to; i++) {
                    out[i] = -g[i];
                }
            }
            case ADD_SCALAR -> System.arraycopy(g, from, out, from, to - from);
            case MUL_SCALAR -> {
                for (int i = from; i < to; i++) {
                    out[i] = g[i] * p;
                }
            }
            case ERF -> {
                for (int i = from; i < to; i++) {
                    float v = x[i];
                    out[i] = g[i] * (TWO_OVER_SQRT_PI * (float) Math.exp(-v * v));
                }
            }
            case GELU -> {
                for (int i = from; i < to; i++) {
                    float v = x[i];
                    out[i] = g[i] * (0.5f * (1f + erf(v * SQRT1_2)) + v * ((float) Math.exp(-0.5f * v * v) * NORMAL_DENSITY));
                }
            }
            default -> {
                for (int i = from; i < to; i++) {
                    out[i] = (float) (g[i] * op.derivative(x[i], y[i], p));
                }
            }
        }
    }

    /** One row of a broadcast binary op: n outputs from a (stride sa) and b (stride sb). */
    static void binaryRow(BinaryOp op, float[] a, int ao, int sa, float[] b, int bo, int sb, float[] o, int oo, int n) {
        if (sa == 1 && sb == 1) {
            switch (op) {
                case ADD -> {
                    for (int i = 0; i < n; i++) {
                        o[oo + i] = a[ao + i] + b[bo + i];
                    }
                }
                case SUB -> {
                    for (int i = 0; i < n; i++) {
                        o[oo + i] = a[ao + i] - b[bo + i];
                    }
                }
                case MUL -> {
                    for (int i = 0; i < n; i++) {
                        o[oo + i] = a[ao + i] * b[bo + i];
                    }
                }
                case DIV -> {
                    for (int i = 0; i < n; i++) {
                        o[oo + i] = a[ao + i] / b[bo + i];
                    }
                }
            }
        } else if (sa == 1 && sb == 0) {
            float bv = b[bo];
            switch (op) {
                case ADD -> {
                    for (int i = 0; i < n; i++) {
                        o[oo + i] = a[ao + i] + bv;
                    }
                }
                case SUB -> {
                    for (int i = 0; i < n; i++) {
                        o[oo + i] = a[ao + i] - bv;
                    }
                }
                case MUL -> {
                    for (int i = 0; i < n; i++) {
                        o[oo + i] = a[ao + i] * bv;
                    }
                }
                case DIV -> {
                    for (int i = 0; i < n; i++) {
                        o[oo + i] = a[ao + i] / bv;
                    }
                }
            }
        } else {
            for (int i = 0; i < n; i++) {
                float x = a[ao + i * sa];
                float y = b[bo + i * sb];
                o[oo + i] = switch (op) {
                    case ADD -> x + y;
                    case SUB -> x - y;
                    case MUL -> x * y;
                    case DIV -> x / y;
                };
            }
        }
    }
}
