package io.grad4j.cpu;

import io.grad4j.DType;
import io.grad4j.backend.CompareOp;
import io.grad4j.backend.IndexLayout;
import io.grad4j.backend.StridedLayout;

/**
 * The cpu backend's argmax, gather, scatterAdd, compare and where: plain loops, single-threaded
 * (indices, masks and embedding rows are small beside the products they feed), scatterAdd in
 * index order so that repeated indices sum the same way every run.
 */
final class Indexing {
    private Indexing() {
    }

    static void argmax(CpuStorage x, CpuStorage out, long outer, int axis, long inner) {
        if (!x.dtype().isFloatingPoint() || out.dtype() != DType.INT64) {
            throw new IllegalArgumentException("argmax: takes FLOAT32 or FLOAT64 into INT64, got " + x.dtype() + " into "
                    + out.dtype());
        }
        checkView("argmax", x.length(), outer, axis, inner);
        if (out.length() != outer * inner) {
            throw new IllegalArgumentException("argmax: the output has " + out.length() + " elements, not outer * inner = "
                    + outer * inner);
        }
        if (axis == 0 && outer * inner > 0) {
            throw new IllegalArgumentException("argmax: an axis of size 0 has no largest element");
        }
        int in = (int) inner;
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < in; i++) {
                int base = o * axis * in + i;
                int best = 0;
                double m = get(x, base);
                for (int j = 1; j < axis && !Double.isNaN(m); j++) {
                    double v = get(x, base + j * in);
                    if (v > m || Double.isNaN(v)) {
                        m = v;
                        best = j;
                    }
                }
                out.l[o * in + i] = best;
            }
        }
    }

    static void gather(CpuStorage src, int srcAxis, CpuStorage index, long[] indexStrides, CpuStorage out, long outer,
                       int count, long inner) {
        requireIndex("gather", index);
        if (src.dtype() != out.dtype()) {
            throw new IllegalArgumentException("gather: dtypes differ (" + src.dtype() + " source, " + out.dtype()
                    + " output)");
        }
        IndexLayout.of("gather", outer, srcAxis, count, inner, src.length(), out.length(), index.length(), indexStrides);
        Object from = src.array();
        Object to = out.array();
        int in = (int) inner;
        long[] idx = index.l;
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < count; j++) {
                long at = o * indexStrides[0] + j * indexStrides[1];
                int row = (o * count + j) * in;
                if (indexStrides[2] == 0) { // one index for the whole inner row (indexSelect, embedding)
                    long k = checked("gather", idx[(int) at], srcAxis);
                    System.arraycopy(from, (int) ((o * (long) srcAxis + k) * in), to, row, in);
                    continue;
                }
                for (int i = 0; i < in; i++) {
                    long k = checked("gather", idx[(int) (at + i * indexStrides[2])], srcAxis);
                    System.arraycopy(from, (int) ((o * (long) srcAxis + k) * in + i), to, row + i, 1);
                }
            }
        }
    }

    static void scatterAdd(CpuStorage src, CpuStorage index, long[] indexStrides, CpuStorage out, int outAxis,
                           long outer, int count, long inner) {
        requireIndex("scatterAdd", index);
        if (src.dtype() != out.dtype() || out.dtype() == DType.BOOL) {
            throw new IllegalArgumentException("scatterAdd: takes one numeric dtype, got " + src.dtype() + " source and "
                    + out.dtype() + " output");
        }
        IndexLayout.of("scatterAdd", outer, outAxis, count, inner, out.length(), src.length(), index.length(),
                indexStrides);
        int in = (int) inner;
        long[] idx = index.l;
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < count; j++) {
                long at = o * indexStrides[0] + j * indexStrides[1];
                int row = (o * count + j) * in;
                if (indexStrides[2] == 0) { // one index for the whole inner row: add the row
                    long k = checked("scatterAdd", idx[(int) at], outAxis);
                    addRow(src, row, out, (int) ((o * (long) outAxis + k) * in), in);
                    continue;
                }
                for (int i = 0; i < in; i++) {
                    long k = checked("scatterAdd", idx[(int) (at + i * indexStrides[2])], outAxis);
                    addRow(src, row + i, out, (int) ((o * (long) outAxis + k) * in + i), 1);
                }
            }
        }
    }

    static void compare(CompareOp op, CpuStorage a, long[] aStrides, CpuStorage b, long[] bStrides, CpuStorage out,
                        int[] outShape) {
        if (a.dtype() != b.dtype() || out.dtype() != DType.BOOL) {
            throw new IllegalArgumentException(op + ": compares one dtype into BOOL, got " + a.dtype() + ", " + b.dtype()
                    + " into " + out.dtype());
        }
        StridedLayout layout = StridedLayout.of(op.name(), outShape, aStrides, a.length(), bStrides, b.length(),
                out.length());
        boolean[] o = out.b;
        StridedLoops.forEachRow(layout, (oo, n, ao, sa, bo, sb) -> {
            for (int k = 0; k < n; k++) {
                int x = ao + k * sa;
                int y = bo + k * sb;
                o[oo + k] = switch (a.dtype()) {
                    case FLOAT32 -> op.test(a.f[x], b.f[y]);
                    case FLOAT64 -> op.test(a.d[x], b.d[y]);
                    case INT32 -> op.test(a.i[x], b.i[y]);
                    case INT64 -> op.test(a.l[x], b.l[y]);
                    case BOOL -> op.test(a.b[x] ? 1 : 0, b.b[y] ? 1 : 0);
                };
            }
        });
    }

    static void where(CpuStorage c, long[] cStrides, CpuStorage a, long[] aStrides, CpuStorage b, long[] bStrides,
                      CpuStorage out, int[] shape) {
        if (c.dtype() != DType.BOOL || a.dtype() != b.dtype() || a.dtype() != out.dtype()) {
            throw new IllegalArgumentException("where: takes a BOOL condition and operands of the output's dtype, got "
                    + c.dtype() + ", " + a.dtype() + ", " + b.dtype() + " into " + out.dtype());
        }
        // each operand checked against the output's shape as binary checks its two
        StridedLayout.of("where", shape, cStrides, c.length(), aStrides, a.length(), out.length());
        StridedLayout.of("where", shape, bStrides, b.length(), null, 0, out.length());
        long n = out.length();
        int rank = shape.length;
        int[] at = new int[rank];
        long co = 0;
        long ao = 0;
        long bo = 0;
        Object av = a.array();
        Object bv = b.array();
        Object ov = out.array();
        for (int e = 0; e < n; e++) {
            System.arraycopy(c.b[(int) co] ? av : bv, (int) (c.b[(int) co] ? ao : bo), ov, e, 1);
            for (int k = rank - 1; k >= 0; k--) { // odometer: the next index, offsets moved by strides
                co += cStrides[k];
                ao += aStrides[k];
                bo += bStrides[k];
                if (++at[k] < shape[k]) {
                    break;
                }
                co -= cStrides[k] * shape[k];
                ao -= aStrides[k] * shape[k];
                bo -= bStrides[k] * shape[k];
                at[k] = 0;
            }
        }
    }

    private static long checked(String op, long k, int axis) {
        if (k < 0 || k >= axis) {
            throw new IndexOutOfBoundsException(IndexLayout.outOfRange(op, k, axis));
        }
        return k;
    }

    /** out[to .. to+n) += src[from .. from+n). */
    private static void addRow(CpuStorage src, int from, CpuStorage out, int to, int n) {
        switch (out.dtype()) {
            case FLOAT32 -> {
                for (int i = 0; i < n; i++) {
                    out.f[to + i] += src.f[from + i];
                }
            }
            case FLOAT64 -> {
                for (int i = 0; i < n; i++) {
                    out.d[to + i] += src.d[from + i];
                }
            }
            case INT32 -> {
                for (int i = 0; i < n; i++) {
                    out.i[to + i] += src.i[from + i];
                }
            }
            default -> {
                for (int i = 0; i < n; i++) {
                    out.l[to + i] += src.l[from + i];
                }
            }
        }
    }

    private static void requireIndex(String op, CpuStorage index) {
        if (index.dtype() != DType.INT64) {
            throw new IllegalArgumentException(op + ": the index must be INT64, got " + index.dtype());
        }
    }

    private static void checkView(String op, long length, long outer, int axis, long inner) {
        if (outer < 0 || axis < 0 || inner < 0 || outer * axis * inner != length) {
            throw new IllegalArgumentException(op + ": view [outer=" + outer + ", axis=" + axis + ", inner=" + inner
                    + "] does not match " + length + " elements");
        }
    }

    private static double get(CpuStorage s, int i) {
        return s.isFloat() ? s.f[i] : s.d[i];
    }
}
