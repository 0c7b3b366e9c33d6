package io.grad4j.conformance;

import java.util.Arrays;

/**
 * A deliberately naive double-precision reference for every primitive: index arithmetic over
 * flat row-major arrays, no cleverness, no dependency on any backend (so the GPU check can run it
 * where OpenBLAS is absent). Conformance tests compare backends against it.
 */
public final class NaiveReference {
    private NaiveReference() {
    }

    /** A row-major n-d array of doubles. */
    public record Nd(double[] data, int[] shape) {
        public Nd {
            if (data.length != numel(shape)) {
                throw new IllegalArgumentException("data length " + data.length + " vs shape " + Arrays.toString(shape));
            }
        }

        double at(int[] index) {
            return data[flat(index, shape)];
        }
    }

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    public static int flat(int[] index, int[] shape) {
        int f = 0;
        for (int i = 0; i < shape.length; i++) {
            f = f * shape[i] + index[i];
        }
        return f;
    }

    public static int[] unravel(int flat, int[] shape) {
        int[] idx = new int[shape.length];
        for (int a = shape.length - 1; a >= 0; a--) {
            idx[a] = flat % shape[a];
            flat /= shape[a];
        }
        return idx;
    }

    /** Named elementwise functions, written out independently of the backend SPI's formulas. */
    public static Nd unary(String op, double p, Nd x) {
        double[] out = new double[x.data.length];
        for (int i = 0; i < out.length; i++) {
            double v = x.data[i];
            out[i] = switch (op) {
                case "neg" -> -v;
                case "exp" -> Math.exp(v);
                case "log" -> Math.log(v);
                case "sqrt" -> Math.sqrt(v);
                case "abs" -> Math.abs(v);
                case "tanh" -> Math.tanh(v);
                case "sigmoid" -> 1.0 / (1.0 + Math.exp(-v));
                case "relu" -> v > 0 || Double.isNaN(v) ? v : 0;
                case "pow" -> Math.pow(v, p);
                case "add" -> v + p;
                case "mul" -> v * p;
                default -> throw new IllegalArgumentException(op);
            };
        }
        return new Nd(out, x.shape);
    }

    public static int[] broadcastShape(int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
            int db = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException("no broadcast");
            }
            out[i] = Math.max(da, db) == 0 || Math.min(da, db) == 0 ? 0 : Math.max(da, db);
        }
        return out;
    }

    /** Reads x at an index of the broadcast result shape. */
    static double broadcastAt(Nd x, int[] outIndex) {
        int off = outIndex.length - x.shape.length;
        int[] idx = new int[x.shape.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = x.shape[i] == 1 ? 0 : outIndex[i + off];
        }
        return x.at(idx);
    }

    public static Nd binary(String op, Nd a, Nd b) {
        int[] shape = broadcastShape(a.shape, b.shape);
        double[] out = new double[(int) numel(shape)];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, shape);
            double x = broadcastAt(a, idx);
            double y = broadcastAt(b, idx);
            out[i] = switch (op) {
                case "add" -> x + y;
                case "sub" -> x - y;
                case "mul" -> x * y;
                case "div" -> x / y;
                default -> throw new IllegalArgumentException(op);
            };
        }
        return new Nd(out, shape);
    }

    /** NumPy matmul for rank >= 1 operands, batch axes equal or on one side only. */
    public static Nd matmul(Nd a, Nd b) {
        boolean aVec = a.shape.length == 1;
        boolean bVec = b.shape.length == 1;
        int[] as = aVec ? new int[] {1, a.shape[0]} : a.shape;
        int[] bs = bVec ? new int[] {b.shape[0], 1} : b.shape;
        int m = as[as.length - 2];
        int k = as[as.length - 1];
        int n = bs[bs.length - 1];
        int[] batch = as.length > 2 ? Arrays.copyOf(as, as.length - 2) : Arrays.copyOf(bs, bs.length - 2);
        int nb = (int) numel(batch);
        double[] out = new double[nb * m * n];
        for (int t = 0; t < nb; t++) {
            int ao = as.length > 2 ? t * m * k : 0;
            int bo = bs.length > 2 ? t * k * n : 0;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += a.data[ao + i * k + p] * b.data[bo + p * n + j];
                    }
                    out[t * m * n + i * n + j] = s;
                }
            }
        }
        int[] shape = Arrays.copyOf(batch, batch.length + 2);
        shape[batch.length] = m;
        shape[batch.length + 1] = n;
        if (aVec) {
            shape = remove(shape, shape.length - 2);
        }
        if (bVec) {
            shape = remove(shape, shape.length - 1);
        }
        return new Nd(out, shape);
    }

    public static Nd transpose(Nd x, int p, int q) {
        int[] shape = x.shape.clone();
        shape[p] = x.shape[q];
        shape[q] = x.shape[p];
        double[] out = new double[x.data.length];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, shape);
            int[] src = idx.clone();
            src[p] = idx[q];
            src[q] = idx[p];
            out[i] = x.at(src);
        }
        return new Nd(out, shape);
    }

    public static Nd sum(Nd x, int axis, boolean keepDim) {
        return reduce(x, axis, keepDim, false);
    }

    public static Nd max(Nd x, int axis, boolean keepDim) {
        return reduce(x, axis, keepDim, true);
    }

    private static Nd reduce(Nd x, int axis, boolean keepDim, boolean max) {
        int[] kept = x.shape.clone();
        kept[axis] = 1;
        double[] out = new double[(int) numel(kept)];
        Arrays.fill(out, max ? Double.NEGATIVE_INFINITY : 0.0);
        for (int i = 0; i < x.data.length; i++) {
            int[] idx = unravel(i, x.shape);
            idx[axis] = 0;
            int o = flat(idx, kept);
            out[o] = max ? Math.max(out[o], x.data[i]) : out[o] + x.data[i];
        }
        return new Nd(out, keepDim ? kept : remove(x.shape, axis));
    }

    public static double sumAll(Nd x) {
        double s = 0;
        for (double v : x.data) {
            s += v;
        }
        return s;
    }

    /** softmax / log-softmax along an axis, with the max subtracted (so large logits are fine). */
    public static Nd softmax(Nd x, int axis, boolean log) {
        Nd max = max(x, axis, true);
        double[] shifted = new double[x.data.length];
        for (int i = 0; i < shifted.length; i++) {
            int[] idx = unravel(i, x.shape);
            idx[axis] = 0;
            shifted[i] = x.data[i] - max.at(idx);
        }
        double[] exps = new double[shifted.length];
        for (int i = 0; i < exps.length; i++) {
            exps[i] = Math.exp(shifted[i]);
        }
        Nd sums = sum(new Nd(exps, x.shape), axis, true);
        double[] out = new double[x.data.length];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, x.shape);
            idx[axis] = 0;
            double s = sums.at(idx);
            out[i] = log ? shifted[i] - Math.log(s) : exps[i] / s;
        }
        return new Nd(out, x.shape);
    }

    static int[] remove(int[] shape, int axis) {
        int[] out = new int[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) {
            if (i != axis) {
                out[j++] = shape[i];
            }
        }
        return out;
    }
}
