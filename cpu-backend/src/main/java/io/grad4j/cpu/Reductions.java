package io.grad4j.cpu;

import io.grad4j.backend.ReduceOp;

/**
 * Reductions and softmax over the middle axis of [outer, axis, inner]. Rows of a contiguous axis
 * (inner == 1) accumulate in double for accuracy; strided axes (inner > 1) add whole inner rows at
 * a time so the loop stays contiguous.
 */
final class Reductions {
    private Reductions() {
    }

    static void reduceF(ReduceOp op, float[] x, int base, int axis, int inner, float[] out, int ob) {
        if (inner == 1) {
            if (op == ReduceOp.SUM) {
                double s = 0;
                for (int j = 0; j < axis; j++) {
                    s += x[base + j];
                }
                out[ob] = (float) s;
            } else {
                float m = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < axis; j++) {
                    float v = x[base + j];
                    if (v > m || Float.isNaN(v)) {
                        m = v;
                        if (Float.isNaN(v)) {
                            break;
                        }
                    }
                }
                out[ob] = m;
            }
            return;
        }
        if (op == ReduceOp.SUM) {
            java.util.Arrays.fill(out, ob, ob + inner, 0f);
            for (int j = 0; j < axis; j++) {
                int row = base + j * inner;
                for (int i = 0; i < inner; i++) {
                    out[ob + i] += x[row + i];
                }
            }
        } else {
            java.util.Arrays.fill(out, ob, ob + inner, Float.NEGATIVE_INFINITY);
            for (int j = 0; j < axis; j++) {
                int row = base + j * inner;
                for (int i = 0; i < inner; i++) {
                    float v = x[row + i];
                    float m = out[ob + i];
                    out[ob + i] = (v > m || Float.isNaN(v)) && !Float.isNaN(m) ? v : m;
                }
            }
        }
    }

    static void reduceD(ReduceOp op, double[] x, int base, int axis, int inner, double[] out, int ob) {
        for (int i = 0; i < inner; i++) {
            double acc = op == ReduceOp.SUM ? 0.0 : Double.NEGATIVE_INFINITY;
            for (int j = 0; j < axis; j++) {
                double v = x[base + j * inner + i];
                if (op == ReduceOp.SUM) {
                    acc += v;
                } else if ((v > acc || Double.isNaN(v)) && !Double.isNaN(acc)) {
                    acc = v;
                }
            }
            out[ob + i] = acc;
        }
    }

    static void softmax(CpuStorage x, CpuStorage y, int outer, int axis, int inner, boolean log) {
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                int base = o * axis * inner + i;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < axis; j++) {
                    max = Math.max(max, get(x, base + j * inner));
                }
                double sum = 0;
                for (int j = 0; j < axis; j++) {
                    sum += Math.exp(get(x, base + j * inner) - max);
                }
                double logSum = Math.log(sum);
                for (int j = 0; j < axis; j++) {
                    double shifted = get(x, base + j * inner) - max;
                    set(y, base + j * inner, log ? shifted - logSum : Math.exp(shifted) / sum);
                }
            }
        }
    }

    static void softmaxBackward(CpuStorage y, CpuStorage g, CpuStorage out, int outer, int axis, int inner, boolean log) {
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                int base = o * axis * inner + i;
                double dot = 0;
                for (int j = 0; j < axis; j++) {
                    int k = base + j * inner;
                    dot += log ? get(g, k) : get(g, k) * get(y, k);
                }
                for (int j = 0; j < axis; j++) {
                    int k = base + j * inner;
                    double v = log ? get(g, k) - Math.exp(get(y, k)) * dot : get(y, k) * (get(g, k) - dot);
                    set(out, k, v);
                }
            }
        }
    }

    /**
     * Per row: m = max, s = sum exp(x - m); forward writes log(s) + m - x[label] to loss, backward
     * writes grad[r] * (exp(x - m) / s - [c == label]) to out. Accumulates in double.
     */
    static void crossEntropy(CpuStorage x, int[] labels, CpuStorage loss, CpuStorage grad, CpuStorage out,
                             int rows, int classes) {
        for (int r = 0; r < rows; r++) {
            int base = r * classes;
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                max = Math.max(max, get(x, base + c));
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                sum += Math.exp(get(x, base + c) - max);
            }
            int label = labels[r];
            if (loss != null) {
                set(loss, r, Math.log(sum) + max - get(x, base + label));
            } else {
                double g = get(grad, r);
                for (int c = 0; c < classes; c++) {
                    double p = Math.exp(get(x, base + c) - max) / sum;
                    set(out, base + c, g * (p - (c == label ? 1.0 : 0.0)));
                }
            }
        }
    }

    private static double get(CpuStorage s, int i) {
        return s.f != null ? s.f[i] : s.d[i];
    }

    private static void set(CpuStorage s, int i, double v) {
        if (s.f != null) {
            s.f[i] = (float) v;
        } else {
            s.d[i] = v;
        }
    }
}
