package io.grad4j.cpu;

import java.util.List;

import io.grad4j.DType;
import io.grad4j.backend.AdamStep;
import io.grad4j.backend.Backend;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.CompareOp;
import io.grad4j.backend.CounterStream;
import io.grad4j.backend.MatmulShape;
import io.grad4j.backend.ReduceOp;
import io.grad4j.backend.Storage;
import io.grad4j.backend.StridedLayout;
import io.grad4j.backend.UnaryOp;

import java.util.Arrays;

/**
 * The CPU backend: tensors live in Java arrays, matrix products go to OpenBLAS (bytedeco's build,
 * called directly), and everything else runs as fused Java loops the JIT vectorises. A per-op
 * library layer such as ND4J's (~28 us a call here) is deliberately not on the hot path: a training
 * step is hundreds of small ops, and PyTorch pays ~3 us for each.
 */
public final class CpuBackend implements Backend {
    private final Gemm gemm;
    /** Threads that share long elementwise loops (grad4j.cpu.threads; a bad value fails here). */
    private final ParallelLoops loops;

    public CpuBackend(Gemm gemm) {
        this(gemm, ParallelLoops.shared());
    }

    CpuBackend(Gemm gemm, ParallelLoops loops) {
        this.gemm = gemm;
        this.loops = loops;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String description() {
        return "cpu: " + Runtime.getRuntime().availableProcessors() + " cores, " + loops.threads()
                + (loops.threads() == 1 ? " thread" : " threads") + " for long loops, matmul engine " + gemm.name();
    }

    /** Name of the matrix engine in use. */
    public String gemmEngine() {
        return gemm.name();
    }

    // ------------------------------------------------------------------ storage

    /** Java arrays: reading labels or indices on the host costs no device round trip. */
    @Override
    public boolean hostMemory() {
        return true;
    }

    @Override
    public Storage allocate(DType dtype, long length) {
        return CpuStorage.allocate(dtype, length);
    }

    @Override
    public Storage upload(double[] data) {
        double[] copy = CpuStorage.POOL.doubles(data.length); // a released array of that length, if kept
        System.arraycopy(data, 0, copy, 0, data.length);
        return CpuStorage.of(copy);
    }

    @Override
    public Storage upload(float[] data) {
        float[] copy = CpuStorage.POOL.floats(data.length);
        System.arraycopy(data, 0, copy, 0, data.length);
        return CpuStorage.of(copy);
    }

    @Override
    public Storage upload(int[] data) {
        return CpuStorage.of(data.clone());
    }

    @Override
    public Storage upload(long[] data) {
        return CpuStorage.of(data.clone());
    }

    @Override
    public Storage upload(boolean[] data) {
        return CpuStorage.of(data.clone());
    }

    @Override
    public void download(Storage src, double[] dst) {
        CpuStorage s = floating(src, "download");
        checkLength("download", s.size(), dst.length);
        if (s.isFloat()) {
            for (int i = 0; i < dst.length; i++) {
                dst[i] = s.f[i];
            }
        } else {
            System.arraycopy(s.d, 0, dst, 0, dst.length);
        }
    }

    @Override
    public void download(Storage src, float[] dst) {
        CpuStorage s = floating(src, "download");
        checkLength("download", s.size(), dst.length);
        if (s.isFloat()) {
            System.arraycopy(s.f, 0, dst, 0, dst.length);
        } else {
            for (int i = 0; i < dst.length; i++) {
                dst[i] = (float) s.d[i];
            }
        }
    }

    @Override
    public void download(Storage src, int[] dst) {
        CpuStorage s = ofDtype(src, DType.INT32, "download");
        checkLength("download", s.size(), dst.length);
        System.arraycopy(s.i, 0, dst, 0, dst.length);
    }

    @Override
    public void download(Storage src, long[] dst) {
        CpuStorage s = ofDtype(src, DType.INT64, "download");
        checkLength("download", s.size(), dst.length);
        System.arraycopy(s.l, 0, dst, 0, dst.length);
    }

    @Override
    public void download(Storage src, boolean[] dst) {
        CpuStorage s = ofDtype(src, DType.BOOL, "download");
        checkLength("download", s.size(), dst.length);
        System.arraycopy(s.b, 0, dst, 0, dst.length);
    }

    private CpuStorage floating(Storage src, String op) {
        CpuStorage s = cpu(src);
        if (!s.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException(op + ": a " + s.dtype() + " storage where FLOAT32 or FLOAT64 is needed");
        }
        return s;
    }

    private CpuStorage ofDtype(Storage src, DType dtype, String op) {
        CpuStorage s = cpu(src);
        if (s.dtype() != dtype) {
            throw new IllegalArgumentException(op + ": a " + s.dtype() + " storage where " + dtype + " is needed");
        }
        return s;
    }

    @Override
    public void copy(Storage src, Storage dst) {
        CpuStorage s = cpu(src);
        CpuStorage d = cpu(dst);
        checkLength("copy", s.size(), d.size());
        if (s.dtype() != d.dtype()) {
            throw new IllegalArgumentException("copy: dtypes differ (" + s.dtype() + " -> " + d.dtype() + "); use cast");
        }
        System.arraycopy(s.array(), 0, d.array(), 0, s.size());
    }

    @Override
    public void cast(Storage src, Storage dst) {
        CpuStorage s = cpu(src);
        CpuStorage d = cpu(dst);
        checkLength("cast", s.size(), d.size());
        Casts.cast(s, d);
    }

    @Override
    public void fill(Storage dst, double value) {
        CpuStorage d = cpu(dst);
        switch (d.dtype()) {
            case FLOAT32 -> Arrays.fill(d.f, (float) value);
            case FLOAT64 -> Arrays.fill(d.d, value);
            case INT32 -> Arrays.fill(d.i, (int) value);
            case INT64 -> Arrays.fill(d.l, (long) value);
            case BOOL -> Arrays.fill(d.b, value != 0);
        }
    }

    @Override
    public void stridedCopy(Storage src, long srcOffset, long[] srcStrides, Storage dst, long dstOffset,
                            long[] dstStrides, int[] shape) {
        CpuStorage s = cpu(src);
        CpuStorage d = cpu(dst);
        if (s.dtype() != d.dtype()) {
            throw new IllegalArgumentException("stridedCopy: dtypes differ: " + s.dtype() + " vs " + d.dtype());
        }
        StridedLayout layout = StridedLayout.ofCopy("stridedCopy", shape, srcOffset, srcStrides, s.length(),
                dstOffset, dstStrides, d.length());
        if (layout.elements() == 0) {
            return;
        }
        int so = (int) srcOffset;
        int dOff = (int) dstOffset;
        if (!s.dtype().isFloatingPoint()) { // indices, labels, masks: small, one plain loop per run
            StridedLoops.forEachRow(layout, (o, n, a, sa, b, sb) -> {
                switch (s.dtype()) {
                    case INT32 -> {
                        for (int k = 0; k < n; k++) {
                            d.i[dOff + b + k * sb] = s.i[so + a + k * sa];
                        }
                    }
                    case INT64 -> {
                        for (int k = 0; k < n; k++) {
                            d.l[dOff + b + k * sb] = s.l[so + a + k * sa];
                        }
                    }
                    default -> {
                        for (int k = 0; k < n; k++) {
                            d.b[dOff + b + k * sb] = s.b[so + a + k * sa];
                        }
                    }
                }
            });
            return;
        }
        if (Arrays.equals(layout.bStrides(), StridedLayout.contiguousStrides(layout.shape()))) {
            // a contiguous destination: a transpose goes in tiles (2048 x 2048 floats 22.4 -> 7.6 ms
            // on one thread, 4.1 ms on two)
            StridedLayout read = StridedLayout.of("stridedCopy", layout.shape(), layout.aStrides(), s.length() - so,
                    null, 0, layout.elements());
            if (s.isFloat()) {
                float[] in = s.f;
                float[] out = d.f;
                StridedLoops.forEachRowInTiles(read, loops, (o, n, a, sa, b, sb) -> {
                    for (int i = 0; i < n; i++) {
                        out[dOff + o + i] = in[so + a + i * sa];
                    }
                });
            } else {
                double[] in = s.d;
                double[] out = d.d;
                StridedLoops.forEachRowInTiles(read, loops, (o, n, a, sa, b, sb) -> {
                    for (int i = 0; i < n; i++) {
                        out[dOff + o + i] = in[so + a + i * sa];
                    }
                });
            }
            return;
        }
        // a strided destination (a write into a view): operand b is where each element goes
        if (s.isFloat()) {
            float[] in = s.f;
            float[] out = d.f;
            StridedLoops.forEachRow(layout, loops, (o, n, a, sa, b, sb) -> {
                for (int i = 0; i < n; i++) {
                    out[dOff + b + i * sb] = in[so + a + i * sa];
                }
            });
        } else {
            double[] in = s.d;
            double[] out = d.d;
            StridedLoops.forEachRow(layout, loops, (o, n, a, sa, b, sb) -> {
                for (int i = 0; i < n; i++) {
                    out[dOff + b + i * sb] = in[so + a + i * sa];
                }
            });
        }
    }

    // ------------------------------------------------------------------ elementwise

    @Override
    public void unary(UnaryOp op, double p, Storage xs, Storage outs) {
        CpuStorage x = cpu(xs);
        CpuStorage out = cpu(outs);
        checkLength(op.name(), x.size(), out.size());
        if (x.isFloat()) {
            float pf = (float) p;
            loops.forRange(out.size(), (from, to) -> FloatKernels.unary(op, pf, x.f, out.f, (int) from, (int) to));
        } else {
            double[] in = x.d;
            double[] o = out.d;
            loops.forRange(o.length, (from, to) -> {
                for (int i = (int) from; i < to; i++) {
                    o[i] = op.apply(in[i], p);
                }
            });
        }
    }

    @Override
    public void unaryBackward(UnaryOp op, double p, Storage xs, Storage ys, Storage gs, Storage outs) {
        CpuStorage x = cpu(xs);
        CpuStorage y = cpu(ys);
        CpuStorage g = cpu(gs);
        CpuStorage out = cpu(outs);
        checkLength(op.name() + " backward", x.size(), out.size());
        checkLength(op.name() + " backward", g.size(), out.size());
        if (x.isFloat()) {
            float pf = (float) p;
            loops.forRange(out.size(),
                    (from, to) -> FloatKernels.unaryBackward(op, pf, x.f, y.f, g.f, out.f, (int) from, (int) to));
        } else {
            double[] xv = x.d;
            double[] yv = y.d;
            double[] gv = g.d;
            double[] o = out.d;
            loops.forRange(o.length, (from, to) -> {
                for (int i = (int) from; i < to; i++) {
                    o[i] = gv[i] * op.derivative(xv[i], yv[i], p);
                }
            });
        }
    }

    @Override
    public void binary(BinaryOp op, Storage as, long[] aStrides, Storage bs, long[] bStrides, Storage outs, int[] outShape) {
        CpuStorage a = cpu(as);
        CpuStorage b = cpu(bs);
        CpuStorage out = cpu(outs);
        StridedLayout layout = StridedLayout.of(op.name(), outShape, aStrides, a.length(), bStrides, b.length(), out.length());
        if (a.isFloat()) {
            float[] av = a.f;
            float[] bv = b.f;
            float[] o = out.f;
            StridedLoops.forEachRow(layout, loops,
                    (oo, n, ao, sa, bo, sb) -> FloatKernels.binaryRow(op, av, ao, sa, bv, bo, sb, o, oo, n));
        } else {
            double[] av = a.d;
            double[] bv = b.d;
            double[] o = out.d;
            StridedLoops.forEachRow(layout, loops, (oo, n, ao, sa, bo, sb) -> {
                for (int i = 0; i < n; i++) {
                    o[oo + i] = op.apply(av[ao + i * sa], bv[bo + i * sb]);
                }
            });
        }
    }

    @Override
    public void axpby(double alpha, Storage xs, double beta, Storage ys) {
        CpuStorage x = cpu(xs);
        CpuStorage y = cpu(ys);
        checkLength("axpby", x.size(), y.size());
        if (x.isFloat() != y.isFloat()) {
            throw new IllegalArgumentException("axpby: dtypes differ (" + x.dtype() + " vs " + y.dtype() + ")");
        }
        axpbyPieces(alpha, new CpuStorage[] {x}, beta, new CpuStorage[] {y});
    }

    /**
     * All pairs as one loop over their concatenated elements, shared between threads when it is
     * long (an optimizer step over every parameter: {@link ParallelLoops}).
     */
    @Override
    public void axpbyEach(double alpha, List<Storage> xs, double beta, List<Storage> ys) {
        if (xs.size() != ys.size()) {
            throw new IllegalArgumentException("axpbyEach: " + xs.size() + " xs for " + ys.size() + " ys");
        }
        CpuStorage[] x = new CpuStorage[xs.size()];
        CpuStorage[] y = new CpuStorage[ys.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = cpu(xs.get(i));
            y[i] = cpu(ys.get(i));
            checkLength("axpbyEach (pair " + i + ")", x[i].size(), y[i].size());
            if (x[i].isFloat() != y[i].isFloat()) {
                throw new IllegalArgumentException("axpbyEach (pair " + i + "): dtypes differ (" + x[i].dtype()
                        + " vs " + y[i].dtype() + ")");
            }
        }
        axpbyPieces(alpha, x, beta, y);
    }

    private void axpbyPieces(double alpha, CpuStorage[] x, double beta, CpuStorage[] y) {
        int[] sizes = new int[y.length];
        for (int i = 0; i < y.length; i++) {
            sizes[i] = y[i].size();
        }
        float a = (float) alpha;
        float b = (float) beta;
        PairRanges.forEachPiece(loops, sizes, (i, from, to) -> {
            if (y[i].isFloat()) {
                FloatKernels.axpby(a, x[i].f, b, y[i].f, from, to);
            } else {
                double[] xv = x[i].d;
                double[] yv = y[i].d;
                for (int k = from; k < to; k++) {
                    yv[k] = alpha * xv[k] + beta * yv[k];
                }
            }
        });
    }

    /**
     * Dropout in one loop that draws each element's mask bit where it multiplies: no mask array,
     * the same bits as the SPI's composition (mask on the host, then a MUL).
     */
    @Override
    public void dropout(long seed, double p, Storage xs, Storage outs) {
        long keepFrom = CounterStream.keepFrom(p);
        CpuStorage x = cpu(xs);
        CpuStorage out = cpu(outs);
        checkLength("dropout", x.size(), out.size());
        if (x.isFloat() != out.isFloat()) {
            throw new IllegalArgumentException("dropout: dtypes differ (" + x.dtype() + " vs " + out.dtype() + ")");
        }
        double scale = 1.0 / (1.0 - p);
        if (x.isFloat()) {
            float kept = (float) scale;
            float[] xv = x.f;
            float[] o = out.f;
            for (int i = 0; i < o.length; i++) {
                o[i] = xv[i] * ((CounterStream.bits(seed, i) >>> 11) >= keepFrom ? kept : 0f);
            }
        } else {
            double[] xv = x.d;
            double[] o = out.d;
            for (int i = 0; i < o.length; i++) {
                o[i] = xv[i] * ((CounterStream.bits(seed, i) >>> 11) >= keepFrom ? scale : 0.0);
            }
        }
    }

    /** Each parameter's whole Adam step in one loop (AdamKernels), rounding as the composed step. */
    @Override
    public void adamEach(AdamStep step, List<Storage> params, List<Storage> grads, List<Storage> m, List<Storage> v,
                         double[] stepSizes, double[] invBiasCorrection2Sqrt, boolean[] first) {
        int count = params.size();
        AdamStep.checkCounts("adamEach", count, grads.size(), m.size(), v.size(), stepSizes.length,
                invBiasCorrection2Sqrt.length, first.length);
        int[] sizes = new int[count];
        CpuStorage[][] pgmv = new CpuStorage[count][];
        for (int i = 0; i < count; i++) {
            pgmv[i] = new CpuStorage[] {cpu(params.get(i)), cpu(grads.get(i)), cpu(m.get(i)), cpu(v.get(i))};
            CpuStorage p = pgmv[i][0];
            for (int k = 1; k < 4; k++) {
                CpuStorage o = pgmv[i][k];
                checkLength("adamEach (parameter " + i + ")", p.size(), o.size());
                if (o.isFloat() != p.isFloat()) {
                    throw new IllegalArgumentException("adamEach (parameter " + i + "): dtypes differ (" + p.dtype()
                            + " vs " + o.dtype() + ")");
                }
            }
            sizes[i] = p.size();
        }
        PairRanges.forEachPiece(loops, sizes, (i, from, to) -> {
            CpuStorage[] s = pgmv[i];
            if (s[0].isFloat()) {
                AdamKernels.step(step, s[0].f, s[1].f, s[2].f, s[3].f, stepSizes[i], invBiasCorrection2Sqrt[i], first[i],
                        from, to);
            } else {
                AdamKernels.step(step, s[0].d, s[1].d, s[2].d, s[3].d, stepSizes[i], invBiasCorrection2Sqrt[i], first[i],
                        from, to);
            }
        });
    }

    // ------------------------------------------------------------------ matmul

    @Override
    public void matmul(Storage as, Storage bs, Storage cs, MatmulShape s) {
        CpuStorage a = cpu(as);
        CpuStorage b = cpu(bs);
        CpuStorage c = cpu(cs);
        if (a.isFloat() != b.isFloat() || a.isFloat() != c.isFloat()) {
            throw new IllegalArgumentException("matmul: dtypes differ: " + a.dtype() + ", " + b.dtype() + ", " + c.dtype());
        }
        s.checkBounds("matmul", a.length(), b.length(), c.length()); // before OpenBLAS gets the sizes
        long mn = (long) s.m() * s.n();
        if (mn == 0 || s.batch() == 0) {
            return;
        }
        if (s.k() == 0) {
            fill(c, 0.0);
            return;
        }
        // a batch of small products, each too small for the engine to cut between threads, is
        // shared out by whole products instead; larger ones are cut by the engine, one at a time
        long perProduct = mn * s.k();
        long minProducts = s.batch() > 1 && perProduct < Gemm.MIN_FLOPS_PER_THREAD
                ? Math.ceilDiv(Gemm.MIN_FLOPS_PER_THREAD, perProduct) : Long.MAX_VALUE;
        loops.forRange(s.batch(), minProducts, 1, (from, to) -> {
            for (long i = from; i < to; i++) {
                if (a.isFloat()) {
                    gemm.sgemm(s, a.f, i * s.batchStrideA(), b.f, i * s.batchStrideB(), c.f, i * mn);
                } else {
                    gemm.dgemm(s, a.d, i * s.batchStrideA(), b.d, i * s.batchStrideB(), c.d, i * mn);
                }
            }
        });
    }

    // ------------------------------------------------------------------ reductions and softmax

    @Override
    public void reduce(ReduceOp op, Storage xs, Storage outs, long outer, int axis, long inner) {
        CpuStorage x = cpu(xs);
        CpuStorage out = cpu(outs);
        int in = (int) inner;
        for (int o = 0; o < outer; o++) {
            int base = o * axis * in;
            int ob = o * in;
            if (x.isFloat()) {
                Reductions.reduceF(op, x.f, base, axis, in, out.f, ob);
            } else {
                Reductions.reduceD(op, x.d, base, axis, in, out.d, ob);
            }
        }
    }

    @Override
    public void maxBackward(Storage xs, Storage maxs, Storage gs, Storage outs, long outer, int axis, long inner) {
        CpuStorage x = cpu(xs);
        CpuStorage max = cpu(maxs);
        CpuStorage g = cpu(gs);
        CpuStorage out = cpu(outs);
        fill(out, 0.0);
        int in = (int) inner;
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < in; i++) {
                int base = o * axis * in + i;
                int r = o * in + i;
                double m = x.isFloat() ? max.f[r] : max.d[r];
                for (int j = 0; j < axis; j++) {
                    double v = x.isFloat() ? x.f[base + j * in] : x.d[base + j * in];
                    if (v == m || (Double.isNaN(m) && Double.isNaN(v))) {
                        if (x.isFloat()) {
                            out.f[base + j * in] = g.f[r];
                        } else {
                            out.d[base + j * in] = g.d[r];
                        }
                        break;
                    }
                }
            }
        }
    }

    @Override
    public void argmax(Storage x, Storage out, long outer, int axis, long inner) {
        Indexing.argmax(cpu(x), cpu(out), outer, axis, inner);
    }

    @Override
    public void gather(Storage src, int srcAxis, Storage index, long[] indexStrides, Storage out, long outer, int count,
                       long inner) {
        Indexing.gather(cpu(src), srcAxis, cpu(index), indexStrides, cpu(out), outer, count, inner);
    }

    @Override
    public void scatterAdd(Storage src, Storage index, long[] indexStrides, Storage out, int outAxis, long outer,
                           int count, long inner) {
        Indexing.scatterAdd(cpu(src), cpu(index), indexStrides, cpu(out), outAxis, outer, count, inner);
    }

    @Override
    public void compare(CompareOp op, Storage a, long[] aStrides, Storage b, long[] bStrides, Storage out,
                        int[] outShape) {
        Indexing.compare(op, cpu(a), aStrides, cpu(b), bStrides, cpu(out), outShape);
    }

    @Override
    public void where(Storage condition, long[] conditionStrides, Storage a, long[] aStrides, Storage b,
                      long[] bStrides, Storage out, int[] outShape) {
        Indexing.where(cpu(condition), conditionStrides, cpu(a), aStrides, cpu(b), bStrides, cpu(out), outShape);
    }

    @Override
    public void softmax(Storage xs, Storage ys, long outer, int axis, long inner, boolean log) {
        CpuStorage x = cpu(xs);
        CpuStorage y = cpu(ys);
        Reductions.softmax(x, y, (int) outer, axis, (int) inner, log);
    }

    @Override
    public void softmaxBackward(Storage ys, Storage gs, Storage outs, long outer, int axis, long inner, boolean log) {
        Reductions.softmaxBackward(cpu(ys), cpu(gs), cpu(outs), (int) outer, axis, (int) inner, log);
    }

    @Override
    public void crossEntropy(Storage logits, int[] labels, Storage loss, long rows, int classes) {
        Reductions.crossEntropy(cpu(logits), labels, cpu(loss), null, null, (int) rows, classes);
    }

    @Override
    public void crossEntropyBackward(Storage logits, int[] labels, Storage grad, Storage out, long rows, int classes) {
        Reductions.crossEntropy(cpu(logits), labels, null, cpu(grad), cpu(out), (int) rows, classes);
    }

    private static CpuStorage cpu(Storage s) {
        if (s instanceof CpuStorage c) {
            return c;
        }
        throw new IllegalArgumentException("the cpu backend got storage of another backend: " + s.getClass().getName());
    }

    private static void checkLength(String op, long a, long b) {
        if (a != b) {
            throw new IllegalArgumentException(op + ": lengths differ (" + a + " vs " + b + ")");
        }
    }
}
