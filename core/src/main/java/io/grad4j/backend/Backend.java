package io.grad4j.backend;

import io.grad4j.DType;

import java.util.List;

/**
 * The primitives a device must provide; everything else in grad4j (autograd, broadcasting
 * gradients, losses, optimizers) is composed from these in core. All storages are contiguous and
 * row-major; strided access is expressed by explicit element strides. Backends know nothing of
 * autograd. Methods never record history and never allocate their outputs: core allocates, the
 * backend fills. Calls may run asynchronously (a GPU stream) as long as {@link #download} returns
 * finished data.
 */
public interface Backend {
    /** Short name used for selection: "cpu", "cuda". */
    String name();

    /** One line for humans: device, memory, matrix engine, threads. */
    String description();

    // --- storage -------------------------------------------------------------------------------

    /** New storage of {@code length} elements; contents undefined. */
    Storage allocate(DType dtype, long length);

    /** New FLOAT64 storage holding a copy of {@code data}. */
    Storage upload(double[] data);

    /** New FLOAT32 storage holding a copy of {@code data}. */
    Storage upload(float[] data);

    /** New INT32 storage holding a copy of {@code data}. */
    Storage upload(int[] data);

    /** New INT64 storage holding a copy of {@code data}. */
    Storage upload(long[] data);

    /** New BOOL storage holding a copy of {@code data}. */
    Storage upload(boolean[] data);

    /** Copies the whole FLOAT32 or FLOAT64 storage into {@code dst} (converting to double); lengths must match. */
    void download(Storage src, double[] dst);

    /** Copies the whole FLOAT32 or FLOAT64 storage into {@code dst} (converting to float); lengths must match. */
    void download(Storage src, float[] dst);

    /** Copies the whole INT32 storage into {@code dst}; lengths must match. */
    void download(Storage src, int[] dst);

    /** Copies the whole INT64 storage into {@code dst}; lengths must match. */
    void download(Storage src, long[] dst);

    /** Copies the whole BOOL storage into {@code dst}; lengths must match. */
    void download(Storage src, boolean[] dst);

    /** dst = src, same dtype and length. */
    void copy(Storage src, Storage dst);

    /**
     * dst = (dst.dtype) src, same length, any two dtypes, converted as Java's casts convert: float
     * to integer rounds toward zero, saturates and takes NaN to 0; INT64 to INT32 keeps the low 32
     * bits; to BOOL is {@code x != 0} (NaN is true, as in PyTorch); BOOL reads as 0 or 1.
     */
    void cast(Storage src, Storage dst);

    /** Every element of dst = value, converted to dst's dtype as {@link #cast} converts. */
    void fill(Storage dst, double value);

    /**
     * For every index i of {@code shape}:
     * {@code dst[dstOffset + sum_k i_k * dstStrides_k] = src[srcOffset + sum_k i_k * srcStrides_k]}
     * (element offsets and strides, same dtype). The one primitive that moves values between
     * layouts: it materialises views ({@code contiguous()}), transposes and broadcasts (source
     * strides 0 or permuted) and writes into views (a narrowed or transposed destination). The
     * destination positions are distinct ({@link StridedLayout#ofCopy} refuses stride-0 or
     * overlapping destination axes), so a backend may write them in any order; source and
     * destination must not be the same memory unless the positions coincide.
     */
    void stridedCopy(Storage src, long srcOffset, long[] srcStrides, Storage dst, long dstOffset, long[] dstStrides,
                     int[] shape);

    /**
     * dst[contiguous index over shape] = src[sum of index_i * srcStrides_i]: {@link
     * #stridedCopy(Storage, long, long[], Storage, long, long[], int[])} into a whole contiguous
     * destination.
     */
    default void stridedCopy(Storage src, long[] srcStrides, Storage dst, int[] shape) {
        stridedCopy(src, 0, srcStrides, dst, 0, StridedLayout.contiguousStrides(shape), shape);
    }

    // --- elementwise ---------------------------------------------------------------------------

    /** out = op(x) elementwise; same length and dtype. */
    void unary(UnaryOp op, double param, Storage x, Storage out);

    /**
     * out = grad * op'(x): the product of the diagonal Jacobian of an elementwise function with a
     * vector, fused in one pass. It is the VJP of op for reverse mode and, with a tangent in place
     * of grad, its JVP for forward mode. {@code y} is op(x) (backends read whichever is cheaper;
     * see {@link UnaryOp#derivativeNeedsOutput()}).
     */
    void unaryBackward(UnaryOp op, double param, Storage x, Storage y, Storage grad, Storage out);

    /**
     * out[i] = op(a[.], b[.]) over {@code outShape} (out contiguous) where the operands are read
     * at element strides given per output axis; a stride of 0 broadcasts that axis. out may be the
     * same storage as a when a is read with out's contiguous strides (in-place accumulation).
     */
    void binary(BinaryOp op, Storage a, long[] aStrides, Storage b, long[] bStrides,
                Storage out, int[] outShape);

    /**
     * y = alpha * x + beta * y, in place, same length and dtype: an optimizer's update of a
     * parameter or buffer in one pass over memory instead of three temporaries.
     */
    void axpby(double alpha, Storage x, double beta, Storage y);

    /**
     * Whether storages live in host memory, so that a download is a copy in memory with no device
     * round trip: core then takes host-side paths where they are faster (cross-entropy with a
     * label tensor reads the labels on the host for the fused kernel). A device backend (a GPU)
     * says false, and those paths stay on the device instead of waiting for it.
     */
    default boolean hostMemory() {
        return false;
    }

    /**
     * Whether core may defer a write it can prove redundant (zeroGrad's fill, overwritten by the
     * next backward): false while the backend records or replays device work the host does not
     * see, such as a CUDA graph, whose replays must find every write where eager execution put it.
     */
    default boolean canDeferWrites() {
        return true;
    }

    /**
     * {@link #axpby} for every pair {@code (xs[i], ys[i])}: an optimizer step over all parameters
     * at once. The pairs do not overlap one another (no y is another pair's x or y: core sends
     * overlapping pairs one at a time), so the backend may update them in any order or together;
     * the cuda backend updates up to 32 pairs per kernel launch. This default calls axpby pair
     * by pair.
     */
    default void axpbyEach(double alpha, List<Storage> xs, double beta, List<Storage> ys) {
        if (xs.size() != ys.size()) {
            throw new IllegalArgumentException("axpbyEach: " + xs.size() + " xs for " + ys.size() + " ys");
        }
        for (int i = 0; i < xs.size(); i++) {
            axpby(alpha, xs.get(i), beta, ys.get(i));
        }
    }

    /**
     * {@link #copy} for every pair {@code (srcs[i], dsts[i])}, none overlapping another: the
     * gradients a backward pass copies over their zeroed buffers, in one call (the cuda backend
     * copies up to 32 per kernel launch). This default copies pair by pair.
     */
    default void copyEach(List<Storage> srcs, List<Storage> dsts) {
        if (srcs.size() != dsts.size()) {
            throw new IllegalArgumentException("copyEach: " + srcs.size() + " sources for " + dsts.size() + " destinations");
        }
        for (int i = 0; i < srcs.size(); i++) {
            copy(srcs.get(i), dsts.get(i));
        }
    }

    /**
     * One Adam/AdamW step for every parameter i, updating p, m and v in place from g. Each value
     * is rounded as the step composed of this interface's own operations would round it (scalars
     * converted to the dtype once, no fused multiply-add), which is what this default does:
     * <pre>
     *   AdamW, wd != 0:  p = p * (1 - lr*wd)
     *   Adam,  wd != 0:  g = g + p * wd
     *   m = first ? g * (1-b1)     : m * b1 + g * (1-b1)
     *   v = first ? (g*g) * (1-b2) : v * b2 + (g*g) * (1-b2)
     *   p = p - (m / (sqrt(v) * invBiasCorrection2Sqrt[i] + eps)) * stepSizes[i]
     * </pre>
     * so a backend that fuses it into one pass per element (the cpu and cuda backends do) gives
     * the same bits with one pass over each buffer instead of about a dozen. On a first step
     * m and v are written without being read. The four lists are parallel; no buffer of one
     * parameter may be another's.
     */
    default void adamEach(AdamStep step, List<Storage> params, List<Storage> grads, List<Storage> m, List<Storage> v,
                          double[] stepSizes, double[] invBiasCorrection2Sqrt, boolean[] first) {
        int count = params.size();
        AdamStep.checkCounts("adamEach", count, grads.size(), m.size(), v.size(), stepSizes.length,
                invBiasCorrection2Sqrt.length, first.length);
        for (int i = 0; i < count; i++) {
            Storage p = params.get(i);
            long length = p.length();
            if (length == 0) {
                continue;
            }
            if (length > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("adamEach: a parameter of " + length + " elements; this backend's"
                        + " composed Adam step takes at most " + Integer.MAX_VALUE);
            }
            int[] shape = {(int) length};
            long[] strides = {1};
            DType dtype = p.dtype();
            Storage t1 = allocate(dtype, length);
            Storage t2 = allocate(dtype, length);
            Storage g = grads.get(i);
            Storage gw = null;
            try {
                if (step.weightDecay() != 0 && step.decoupled()) {
                    unary(UnaryOp.MUL_SCALAR, 1 - step.lr() * step.weightDecay(), p, t1);
                    copy(t1, p);
                } else if (step.weightDecay() != 0) {
                    gw = allocate(dtype, length);
                    unary(UnaryOp.MUL_SCALAR, step.weightDecay(), p, t1);
                    binary(BinaryOp.ADD, g, strides, t1, strides, gw, shape);
                    g = gw;
                }
                if (first[i]) {
                    unary(UnaryOp.MUL_SCALAR, 1 - step.beta1(), g, m.get(i));
                } else {
                    unary(UnaryOp.MUL_SCALAR, step.beta1(), m.get(i), t1);
                    unary(UnaryOp.MUL_SCALAR, 1 - step.beta1(), g, t2);
                    binary(BinaryOp.ADD, t1, strides, t2, strides, m.get(i), shape);
                }
                binary(BinaryOp.MUL, g, strides, g, strides, t2, shape); // g^2
                if (first[i]) {
                    unary(UnaryOp.MUL_SCALAR, 1 - step.beta2(), t2, v.get(i));
                } else {
                    unary(UnaryOp.MUL_SCALAR, 1 - step.beta2(), t2, t1);
                    unary(UnaryOp.MUL_SCALAR, step.beta2(), v.get(i), t2);
                    binary(BinaryOp.ADD, t2, strides, t1, strides, v.get(i), shape);
                }
                unary(UnaryOp.SQRT, 0, v.get(i), t1);
                unary(UnaryOp.MUL_SCALAR, invBiasCorrection2Sqrt[i], t1, t2);
                unary(UnaryOp.ADD_SCALAR, step.eps(), t2, t1);                    // denominator
                binary(BinaryOp.DIV, m.get(i), strides, t1, strides, t2, shape);
                unary(UnaryOp.MUL_SCALAR, stepSizes[i], t2, t1);
                binary(BinaryOp.SUB, p, strides, t1, strides, p, shape);
            } finally {
                t1.release();
                t2.release();
                if (gw != null) {
                    gw.release();
                }
            }
        }
    }

    /**
     * Inverted dropout of x with the mask of (seed, p): out[i] = x[i] * m_i, one multiply in the
     * dtype, with m_i = (dtype) (1 / (1 - p)) where {@code CounterStream.uniform(seed, i) >= p} (the
     * element is kept) and 0 where not. The same call is the forward pass (x the input) and, with
     * the same seed, its VJP and JVP (x a gradient or tangent): the mask is recomputed from the
     * seed, never stored. This default draws the mask on the host and multiplies on the device; the
     * cpu and cuda backends draw it where they multiply, with the same bits. p lies in [0, 1).
     */
    default void dropout(long seed, double p, Storage x, Storage out) {
        long keepFrom = CounterStream.keepFrom(p);
        long n = x.length();
        if (out.length() != n || out.dtype() != x.dtype()) {
            throw new IllegalArgumentException("dropout: x is " + x.dtype() + "[" + n + "], out is " + out.dtype() + "["
                    + out.length() + "]; they must match");
        }
        if (n == 0) {
            return;
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("dropout: " + n + " elements; this backend draws the mask on the host,"
                    + " at most " + (Integer.MAX_VALUE - 8));
        }
        double scale = 1.0 / (1.0 - p);
        Storage mask;
        if (x.dtype() == DType.FLOAT64) {
            double[] m = new double[(int) n];
            for (int i = 0; i < m.length; i++) {
                m[i] = (CounterStream.bits(seed, i) >>> 11) >= keepFrom ? scale : 0.0;
            }
            mask = upload(m);
        } else {
            float[] m = new float[(int) n];
            for (int i = 0; i < m.length; i++) {
                m[i] = (CounterStream.bits(seed, i) >>> 11) >= keepFrom ? (float) scale : 0f;
            }
            mask = upload(m);
        }
        try {
            binary(BinaryOp.MUL, x, new long[] {1}, mask, new long[] {1}, out, new int[] {(int) n});
        } finally {
            mask.release();
        }
    }

    // --- linear algebra ------------------------------------------------------------------------

    /** c = op(a) @ op(b), batched, see {@link MatmulShape}; c is overwritten. */
    void matmul(Storage a, Storage b, Storage c, MatmulShape shape);

    /**
     * c = op(a) @ op(b) + bias, the bias (n elements) added to every row of every batch entry: a
     * linear layer. Rounded as this default composes it: the product rounded to the dtype by
     * {@link #matmul}, then {@code binary(ADD)} with the bias, in place. A backend that adds the
     * bias where its GEMM writes c (the cuda backend's own kernels) saves a pass over c and, on
     * a GPU, a launch, with the same bits.
     */
    default void matmulBias(Storage a, Storage b, Storage bias, Storage c, MatmulShape shape) {
        if (bias.length() != shape.n() || bias.dtype() != c.dtype()) {
            throw new IllegalArgumentException("matmulBias: the bias is " + bias.dtype() + "[" + bias.length()
                    + "], the product " + c.dtype() + " with " + shape.n() + " columns");
        }
        matmul(a, b, c, shape);
        long rows = (long) shape.batch() * shape.m();
        if (rows == 0 || shape.n() == 0) {
            return;
        }
        if (rows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("matmulBias: " + rows + " rows in all; this default adds the bias over at"
                    + " most " + Integer.MAX_VALUE);
        }
        binary(BinaryOp.ADD, c, new long[] {shape.n(), 1}, bias, new long[] {0, 1}, c, new int[] {(int) rows, shape.n()});
    }

    // --- reductions and softmax over one axis of a tensor viewed as [outer, axis, inner] ---------

    /** out[o, i] = reduce over j of x[o, j, i]; out has outer * inner elements. */
    void reduce(ReduceOp op, Storage x, Storage out, long outer, int axis, long inner);

    /**
     * out[o, i] = the first j at which x[o, j, i] is largest, as an INT64; a NaN counts as larger
     * than every number (PyTorch's argmax), so the first NaN of a row wins. x is FLOAT32 or
     * FLOAT64, out has outer * inner elements, axis is at least 1.
     */
    void argmax(Storage x, Storage out, long outer, int axis, long inner);

    /**
     * Gradient of a max reduction: out[o, j, i] = grad[o, i] where j is the first index at which
     * x[o, j, i] equals max[o, i], else 0. Only one element per row receives the gradient, as in
     * PyTorch's {@code max(dim)}. An optional fused kernel: this default composes it as {@link
     * #argmax}, zeros, then {@link #scatterAdd} of grad at the argmax, so it gives those values
     * (a -0 gradient arrives as +0, as PyTorch's scatter gives it); the cpu and cuda backends find
     * the position and write in one pass.
     */
    default void maxBackward(Storage x, Storage max, Storage grad, Storage out, long outer, int axis, long inner) {
        Storage at = allocate(DType.INT64, outer * inner);
        try {
            argmax(x, at, outer, axis, inner);
            fill(out, 0.0);
            scatterAdd(grad, at, new long[] {inner, 0, 1}, out, axis, outer, 1, inner);
        } finally {
            at.release();
        }
    }

    // --- indexing, comparison, selection ---------------------------------------------------------

    /**
     * out[o, j, i] = src[o, index[o*s0 + j*s1 + i*s2], i]: src viewed as [outer, srcAxis, inner],
     * out contiguous [outer, count, inner] of src's dtype (any), index INT64 read at the three
     * element strides {@code indexStrides} (see {@link IndexLayout}). An index outside
     * [0, srcAxis) is an {@link IndexOutOfBoundsException} naming it and the size: thrown by the
     * call, or by an asynchronous backend (a GPU) at the latest from the next download or
     * {@link #synchronize}, as PyTorch's device-side checks do.
     */
    void gather(Storage src, int srcAxis, Storage index, long[] indexStrides, Storage out, long outer, int count,
                long inner);

    /**
     * out[o, index[o*s0 + j*s1 + i*s2], i] += src[o, j, i] for j = 0, 1, ..., count - 1 in that
     * order, so repeated indices sum in a fixed order (the same bits every run: no atomics).
     * out is [outer, outAxis, inner] and keeps what it held elsewhere; src is contiguous
     * [outer, count, inner] of out's dtype (FLOAT32, FLOAT64, INT32 or INT64). Indices are checked
     * as {@link #gather} checks them.
     */
    void scatterAdd(Storage src, Storage index, long[] indexStrides, Storage out, int outAxis, long outer, int count,
                    long inner);

    /**
     * out[i] = op(a[.], b[.]) as a BOOL over {@code outShape} (out contiguous), operands of one
     * dtype (any) read at element strides per output axis, 0 broadcasting, as {@link #binary}
     * reads them.
     */
    void compare(CompareOp op, Storage a, long[] aStrides, Storage b, long[] bStrides, Storage out, int[] outShape);

    /**
     * out[i] = condition[.] ? a[.] : b[.] over {@code outShape} (out contiguous), the BOOL
     * condition and the operands (one dtype, any) read at element strides per output axis.
     */
    void where(Storage condition, long[] conditionStrides, Storage a, long[] aStrides, Storage b, long[] bStrides,
               Storage out, int[] outShape);

    /** y = softmax(x) (or log-softmax) along the middle axis, max-subtracted so large logits are safe. */
    void softmax(Storage x, Storage y, long outer, int axis, long inner, boolean log);

    /**
     * Gradient through softmax given its output y: out = y * (g - sum(g * y)) for softmax,
     * out = g - exp(y) * sum(g) for log-softmax (y then holds log-probabilities).
     */
    void softmaxBackward(Storage y, Storage grad, Storage out, long outer, int axis, long inner, boolean log);

    // --- fused loss -------------------------------------------------------------------------------

    /**
     * Softmax cross-entropy of each row of logits [rows, classes] against its label, fused and
     * max-subtracted: loss[r] = log(sum_c exp(x[r,c])) - x[r, labels[r]]. Labels were checked to
     * lie in [0, classes) by the caller.
     */
    void crossEntropy(Storage logits, int[] labels, Storage loss, long rows, int classes);

    /**
     * Its gradient in one pass per row, recomputing the softmax rather than saving it:
     * out[r, c] = grad[r] * (softmax(x[r])[c] - [c == labels[r]]).
     */
    void crossEntropyBackward(Storage logits, int[] labels, Storage grad, Storage out, long rows, int classes);

    /**
     * The mean of {@link #crossEntropy}'s per-row losses as one value, loss[0], rounded as this
     * default composes it from the interface's own operations: the per-row losses, their
     * {@code reduce(SUM)} over all rows, then {@code unary(MUL_SCALAR, 1.0 / rows)}. A backend that
     * fuses it (the cuda backend: one launch instead of three) must give the same bits, so a
     * training run's loss does not depend on whether it fused. rows is at least 1.
     */
    default void crossEntropyMean(Storage logits, int[] labels, Storage loss, long rows, int classes) {
        checkMeanRows("crossEntropyMean", rows);
        Storage perRow = allocate(logits.dtype(), rows);
        Storage sum = allocate(logits.dtype(), 1);
        try {
            crossEntropy(logits, labels, perRow, rows, classes);
            reduce(ReduceOp.SUM, perRow, sum, 1, (int) rows, 1);
            unary(UnaryOp.MUL_SCALAR, 1.0 / rows, sum, loss);
        } finally {
            perRow.release();
            sum.release();
        }
    }

    /**
     * The gradient of {@link #crossEntropyMean} from the scalar upstream grad[0]:
     * out[r, c] = (grad[0] * (1/rows)) * (softmax(x[r])[c] - [c == labels[r]]), the first product
     * rounded to the dtype, as this default composes it: {@code unaryBackward(MUL_SCALAR)} of the
     * scalar, its broadcast to every row, then {@link #crossEntropyBackward}. A fused override
     * (cuda: one launch instead of three) gives the same bits.
     */
    default void crossEntropyMeanBackward(Storage logits, int[] labels, Storage grad, Storage out, long rows,
                                          int classes) {
        checkMeanRows("crossEntropyMeanBackward", rows);
        Storage scaled = allocate(logits.dtype(), 1);
        Storage perRow = allocate(logits.dtype(), rows);
        try {
            unaryBackward(UnaryOp.MUL_SCALAR, 1.0 / rows, grad, grad, grad, scaled); // MUL_SCALAR reads neither x nor y
            stridedCopy(scaled, new long[] {0}, perRow, new int[] {(int) rows});
            crossEntropyBackward(logits, labels, perRow, out, rows, classes);
        } finally {
            scaled.release();
            perRow.release();
        }
    }

    private static void checkMeanRows(String what, long rows) {
        if (rows < 1 || rows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + ": " + rows + " rows; the mean needs between 1 and "
                    + Integer.MAX_VALUE);
        }
    }

    /** Waits until all queued work is done. CPU backends that run synchronously do nothing. */
    default void synchronize() {
    }
}
