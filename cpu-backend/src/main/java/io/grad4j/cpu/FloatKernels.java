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

    static void unary(UnaryOp op, float p, float[] x, float[] out) {
        int n = out.length;
        switch (op) {
            case NEG -> {
                for (int i = 0; i < n; i++) {
                    out[i] = -x[i];
                }
            }
            case RELU -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Math.max(x[i], 0f);
                }
            }
            case ABS -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Math.abs(x[i]);
                }
            }
            case ADD_SCALAR -> {
                for (int i = 0; i < n; i++) {
                    out[i] = x[i] + p;
                }
            }
            case MUL_SCALAR -> {
                for (int i = 0; i < n; i++) {
                    out[i] = x[i] * p;
                }
            }
            case SQRT -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) Math.sqrt(x[i]);
                }
            }
            default -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) op.apply(x[i], p);
                }
            }
        }
    }

    static void unaryBackward(UnaryOp op, float p, float[] x, float[] y, float[] g, float[] out) {
        int n = out.length;
        switch (op) {
            case RELU -> {
                for (int i = 0; i < n; i++) {
                    out[i] = x[i] > 0f ? g[i] : 0f;
                }
            }
            case TANH -> {
                for (int i = 0; i < n; i++) {
                    float t = y[i];
                    out[i] = g[i] * (1f - t * t);
                }
            }
            case SIGMOID -> {
                for (int i = 0; i < n; i++) {
                    float s = y[i];
                    out[i] = g[i] * s * (1f - s);
                }
            }
            case EXP -> {
                for (int i = 0; i < n; i++) {
                    out[i] = g[i] * y[i];
                }
            }
            case NEG -> {
                for (int i = 0; i < n; i++) {
                    out[i] = -g[i];
                }
            }
            case ADD_SCALAR -> System.arraycopy(g, 0, out, 0, n);
            case MUL_SCALAR -> {
                for (int i = 0; i < n; i++) {
                    out[i] = g[i] * p;
                }
            }
            default -> {
                for (int i = 0; i < n; i++) {
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
