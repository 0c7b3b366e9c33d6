package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.Storage;
import io.grad4j.backend.UnaryOp;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * An n-dimensional array of numbers on one {@link Backend}, with optional autograd history:
 * FLOAT32 or FLOAT64, which differentiate and take arithmetic, or INT32, INT64 and BOOL, which hold
 * indices, labels and masks (created, viewed, copied, converted with {@link #to(DType)} and saved,
 * but never differentiated). A tensor is a layout over a storage: (storage, offset, shape, strides, dtype),
 * offsets and strides counted in elements.
 *
 * <p>Views ({@link #transpose}, {@link #permute}, {@link #expand}, {@link #narrow},
 * {@link #select}, {@link #squeeze}, {@link #unsqueeze}, {@link #reshape} where the layout allows,
 * {@link #detach}) change only the layout: they share their base's storage, so writes through one
 * show in the other, and they are differentiable. Kernels take whole contiguous storages, so an
 * operation handed a view that is not one copies it first ({@link #contiguous}, recorded like any
 * operation, so gradients reach the base).
 *
 * <p>Tensors own backend memory. {@link #close()} frees it at once (the way to run on a GPU);
 * a {@link Cleaner} frees it when an unclosed tensor is garbage-collected. Views share memory
 * with their source; the memory goes when the last of them is closed.
 *
 * <p>Every operation listed in the API works in reverse mode ({@link #backward()}) and forward mode
 * ({@link io.grad4j.autograd.Autograd#jvp}). Binary operations follow NumPy broadcasting and never
 * promote dtypes.
 */
public final class Tensor implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Backend backend;
    private final DType dtype;
    private final int[] shape;
    /**
     * Element strides per axis (a size-1 axis may have any stride, a broadcast axis has 0); null
     * for row-major strides, which every tensor an operation allocates has, so those carry no array.
     */
    private final long[] strides;
    /** Index of element [0, ..., 0] in the storage. */
    private final long offset;
    private final long numel;
    /**
     * Row-major, from element 0, covering the whole storage: the layout kernels take as is. Every
     * tensor an operation allocates is dense; only views may not be.
     */
    private final boolean dense;
    private final StorageRef ref;
    private final Cleaner.Cleanable cleanable;
    /** Non-null only with the leak detector on ({@link TensorLeaks}). */
    private final Release release;
    private volatile boolean closed;

    // autograd state; a tensor belongs to one thread while it is being differentiated
    private boolean requiresGrad;
    private Node gradFn;
    private Tensor grad;
    private List<UnaryOperator<Tensor>> hooks;
    /** Forward-mode tangent, set only inside {@link io.grad4j.autograd.Autograd#jvp}. */
    Tensor tangent;

    private Tensor(Backend backend, DType dtype, int[] shape, long[] strides, long offset, StorageRef ref) {
        this.backend = backend;
        this.dtype = dtype;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        this.numel = BroadcastShape.numel(shape);
        this.dense = offset == 0 && numel == ref.length() && (strides == null || Layouts.isContiguous(shape, strides));
        this.ref = ref;
        this.release = TensorLeaks.ENABLED ? new Release(ref, TensorLeaks.created(shape)) : null;
        this.cleanable = CLEANER.register(this, release != null ? release : ref::releaseOne);
        TensorScope.track(this);
    }

    /** The Cleaner's action with the leak detector on: a close() runs it too, so it tells the two apart. */
    private static final class Release implements Runnable {
        private final StorageRef ref;
        private final long leakId;
        volatile boolean closedExplicitly;

        Release(StorageRef ref, long leakId) {
            this.ref = ref;
            this.leakId = leakId;
        }

        @Override
        public void run() {
            if (closedExplicitly) {
                TensorLeaks.closed(leakId);
            } else {
                TensorLeaks.collectedWithoutClose(leakId);
            }
            ref.releaseOne();
        }
    }

    /** A tensor over freshly made storage (which it now owns). */
    static Tensor wrap(Backend backend, int[] shape, Storage storage) {
        return new Tensor(backend, storage.dtype(), shape, null, 0, new StorageRef(storage));
    }

    /** Uninitialised tensor: the caller fills it. */
    static Tensor empty(Backend backend, DType dtype, int[] shape) {
        return wrap(backend, shape, backend.allocate(dtype, BroadcastShape.numel(shape)));
    }

    /**
     * A view sharing this tensor's memory, with another shape of the same size and no history: for
     * dense tensors (what operations compute), whose every reshape is a view.
     */
    Tensor view(int[] newShape) {
        checkOpen();
        if (!dense) {
            throw new IllegalStateException("internal error: view(" + Arrays.toString(newShape) + ") of a tensor that is"
                    + " not dense (" + describeLayout() + "); use ShapeOps.reshape");
        }
        return new Tensor(backend, dtype, newShape, null, 0, ref.retain());
    }

    /** A view with any layout over this tensor's storage, no history; the caller checked the layout's bounds. */
    Tensor viewOf(int[] newShape, long[] newStrides, long newOffset) {
        checkOpen();
        return new Tensor(backend, dtype, newShape, newStrides, newOffset, ref.retain());
    }

    // ---------------------------------------------------------------- creation

    /** FLOAT64 tensor holding a copy of {@code data} in row-major order. */
    public static Tensor of(double[] data, int... shape) {
        checkData(data);
        return uploaded(data.length, shape, b -> b.upload(data));
    }

    /** FLOAT32 tensor holding a copy of {@code data} in row-major order. */
    public static Tensor of(float[] data, int... shape) {
        checkData(data);
        return uploaded(data.length, shape, b -> b.upload(data));
    }

    /** INT32 tensor holding a copy of {@code data} in row-major order. */
    public static Tensor of(int[] data, int... shape) {
        checkData(data);
        return uploaded(data.length, shape, b -> b.upload(data));
    }

    /** INT64 tensor holding a copy of {@code data} in row-major order. */
    public static Tensor of(long[] data, int... shape) {
        checkData(data);
        return uploaded(data.length, shape, b -> b.upload(data));
    }

    /** BOOL tensor holding a copy of {@code data} in row-major order. */
    public static Tensor of(boolean[] data, int... shape) {
        checkData(data);
        return uploaded(data.length, shape, b -> b.upload(data));
    }

    /** {@code start, start+1, ..., end-1} as a 1-D tensor of {@code dtype} (empty when end <= start). */
    public static Tensor arange(DType dtype, long start, long end) {
        checkDtype("Tensor.arange", dtype);
        long n;
        try {
            n = Math.max(0, Math.subtractExact(end, start));
        } catch (ArithmeticException e) {
            n = Long.MAX_VALUE;
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("Tensor.arange: " + start + " to " + end + " is more than "
                    + (Integer.MAX_VALUE - 8) + " elements");
        }
        long[] values = new long[(int) n];
        for (int i = 0; i < values.length; i++) {
            values[i] = start + i;
        }
        Backend b = Backends.current();
        Tensor t = wrap(b, new int[] {values.length}, b.upload(values));
        if (dtype == DType.INT64) {
            return t;
        }
        Tensor converted = ShapeOps.castRaw(t, dtype); // as Java's casts convert, e.g. to FLOAT32
        t.close();
        return converted;
    }

    /** A tensor over a copy of a host array of {@code length} elements, checked against the shape. */
    private static Tensor uploaded(int length, int[] shape, java.util.function.Function<Backend, Storage> upload) {
        checkShape("Tensor.of", shape);
        checkLength(length, shape);
        Backend b = Backends.current();
        return wrap(b, shape.clone(), upload.apply(b));
    }

    /** Rank-0 FLOAT64 tensor. */
    public static Tensor scalar(double value) {
        return of(new double[] {value});
    }

    public static Tensor zeros(DType dtype, int... shape) {
        return full(dtype, 0.0, shape);
    }

    public static Tensor ones(DType dtype, int... shape) {
        return full(dtype, 1.0, shape);
    }

    public static Tensor full(DType dtype, double value, int... shape) {
        checkDtype("Tensor.full", dtype);
        checkShape("Tensor.full", shape);
        return full(Backends.current(), dtype, value, shape.clone());
    }

    static Tensor full(Backend backend, DType dtype, double value, int[] shape) {
        Tensor t = empty(backend, dtype, shape);
        backend.fill(t.storage(), value);
        return t;
    }

    static Tensor zeros(Backend backend, DType dtype, int[] shape) {
        return full(backend, dtype, 0.0, shape);
    }

    /** Standard normal samples, the same for a seed on every backend (see {@link CounterRandom}). */
    public static Tensor randn(DType dtype, long seed, int... shape) {
        checkFloatingDtype("Tensor.randn", dtype);
        checkShape("Tensor.randn", shape);
        return fromHost(dtype, CounterRandom.normal(seed, BroadcastShape.numel(shape)), shape.clone());
    }

    /** Uniform samples in [0, 1), the same for a seed on every backend. */
    public static Tensor rand(DType dtype, long seed, int... shape) {
        checkFloatingDtype("Tensor.rand", dtype);
        checkShape("Tensor.rand", shape);
        return fromHost(dtype, CounterRandom.uniform(seed, BroadcastShape.numel(shape)), shape.clone());
    }

    private static Tensor fromHost(DType dtype, double[] values, int[] shape) {
        Backend b = Backends.current();
        if (dtype == DType.FLOAT64) {
            return wrap(b, shape, b.upload(values));
        }
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return wrap(b, shape, b.upload(f));
    }

    // ---------------------------------------------------------------- inspection and transfer

    public int[] shape() {
        checkOpen();
        return shape.clone();
    }

    public int rank() {
        checkOpen();
        return shape.length;
    }

    public long numel() {
        checkOpen();
        return numel;
    }

    public DType dtype() {
        checkOpen();
        return dtype;
    }

    public Backend backend() {
        checkOpen();
        return backend;
    }

    /** Element strides per axis (how far apart neighbours along each axis lie in the storage). */
    public long[] strides() {
        checkOpen();
        return stridesInternal().clone();
    }

    /** Where element [0, ..., 0] lies in the storage, in elements. */
    public long storageOffset() {
        checkOpen();
        return offset;
    }

    /** Whether the elements lie in row-major order without gaps (PyTorch's is_contiguous; any offset). */
    public boolean isContiguous() {
        checkOpen();
        return strides == null || Layouts.isContiguous(shape, strides);
    }

    /**
     * This tensor if it is contiguous, else a row-major copy of it (differentiable: the gradient
     * passes through to this tensor).
     */
    public Tensor contiguous() {
        checkOpen();
        return isContiguous() ? this : ViewOps.contiguous(this);
    }

    /** Row-major copy of the values, converted to double. */
    public double[] toDoubleArray() {
        double[] out = new double[checkedHostLength()];
        if (!dtype.isFloatingPoint()) {
            long[] values = wholeNumbers();
            for (int i = 0; i < out.length; i++) {
                out[i] = values[i];
            }
            return out;
        }
        Tensor d = denseRaw();
        backend.download(d.storage(), out);
        d.closeIfCopyOf(this);
        Reference.reachabilityFence(this);
        return out;
    }

    /** Row-major copy of the values, converted to float. */
    public float[] toFloatArray() {
        float[] out = new float[checkedHostLength()];
        if (!dtype.isFloatingPoint()) {
            long[] values = wholeNumbers();
            for (int i = 0; i < out.length; i++) {
                out[i] = values[i]; // rounded once, as (float) of a long rounds
            }
            return out;
        }
        Tensor d = denseRaw();
        backend.download(d.storage(), out);
        d.closeIfCopyOf(this);
        Reference.reachabilityFence(this);
        return out;
    }

    /** Row-major copy of the values, converted as Java's casts convert ((int) of a float rounds toward zero and saturates). */
    public int[] toIntArray() {
        int[] out = new int[checkedHostLength()];
        if (dtype.isFloatingPoint()) {
            double[] v = toDoubleArray(); // FLOAT32 widens exactly; (int) of the double is (int) of the float
            for (int i = 0; i < out.length; i++) {
                out[i] = (int) v[i];
            }
        } else {
            long[] v = wholeNumbers();
            for (int i = 0; i < out.length; i++) {
                out[i] = (int) v[i]; // INT64 keeps its low 32 bits
            }
        }
        return out;
    }

    /** Row-major copy of the values, converted as Java's casts convert. */
    public long[] toLongArray() {
        if (!dtype.isFloatingPoint()) {
            return wholeNumbers();
        }
        double[] v = toDoubleArray();
        long[] out = new long[v.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (long) v[i];
        }
        return out;
    }

    /** Row-major copy of the values, each {@code != 0} (NaN is true, as in PyTorch). */
    public boolean[] toBooleanArray() {
        boolean[] out = new boolean[checkedHostLength()];
        if (dtype.isFloatingPoint()) {
            double[] v = toDoubleArray();
            for (int i = 0; i < out.length; i++) {
                out[i] = v[i] != 0;
            }
        } else {
            long[] v = wholeNumbers();
            for (int i = 0; i < out.length; i++) {
                out[i] = v[i] != 0;
            }
        }
        return out;
    }

    /** The values of an INT32, INT64 or BOOL tensor (0 or 1), row-major, exactly: every integer download goes through here. */
    private long[] wholeNumbers() {
        long[] out = new long[checkedHostLength()];
        Tensor d = denseRaw();
        switch (dtype) {
            case INT64 -> backend.download(d.storage(), out);
            case INT32 -> {
                int[] v = new int[out.length];
                backend.download(d.storage(), v);
                for (int i = 0; i < out.length; i++) {
                    out[i] = v[i];
                }
            }
            case BOOL -> {
                boolean[] v = new boolean[out.length];
                backend.download(d.storage(), v);
                for (int i = 0; i < out.length; i++) {
                    out[i] = v[i] ? 1 : 0;
                }
            }
            default -> throw new IllegalStateException("internal error: wholeNumbers() of a " + dtype + " tensor");
        }
        d.closeIfCopyOf(this);
        Reference.reachabilityFence(this);
        return out;
    }

    /** The value of a tensor with exactly one element. */
    public double item() {
        checkOpen();
        if (numel != 1) {
            throw new IllegalArgumentException("item() needs a tensor with one element, this one has shape "
                    + Arrays.toString(shape) + " (" + numel + " elements)");
        }
        return toDoubleArray()[0];
    }

    /** This tensor converted to {@code target} (differentiable: gradients are converted back). */
    public Tensor to(DType target) {
        checkOpen();
        checkDtype("to", target);
        return target == dtype ? this : ShapeOps.cast(this, target);
    }

    /** This tensor copied to another backend (differentiable: gradients travel back). */
    public Tensor to(Backend target) {
        checkOpen();
        if (target == null) {
            throw new IllegalArgumentException("to: backend is null (use Backends.get(\"cpu\") or Backends.current())");
        }
        return target == backend ? this : ShapeOps.transfer(this, target);
    }

    // ---------------------------------------------------------------- arithmetic

    public Tensor add(Tensor o) {
        return ArithmeticOps.apply(BinaryOp.ADD, this, o);
    }

    public Tensor sub(Tensor o) {
        return ArithmeticOps.apply(BinaryOp.SUB, this, o);
    }

    public Tensor mul(Tensor o) {
        return ArithmeticOps.apply(BinaryOp.MUL, this, o);
    }

    public Tensor div(Tensor o) {
        return ArithmeticOps.apply(BinaryOp.DIV, this, o);
    }

    public Tensor add(double s) {
        return ElementwiseOps.apply(UnaryOp.ADD_SCALAR, s, this);
    }

    public Tensor sub(double s) {
        return ElementwiseOps.apply(UnaryOp.ADD_SCALAR, -s, this);
    }

    public Tensor mul(double s) {
        return ElementwiseOps.apply(UnaryOp.MUL_SCALAR, s, this);
    }

    public Tensor div(double s) {
        return ElementwiseOps.apply(UnaryOp.MUL_SCALAR, 1.0 / s, this);
    }

    public Tensor neg() {
        return ElementwiseOps.apply(UnaryOp.NEG, 0, this);
    }

    public Tensor pow(double p) {
        return ElementwiseOps.apply(UnaryOp.POW, p, this);
    }

    public Tensor exp() {
        return ElementwiseOps.apply(UnaryOp.EXP, 0, this);
    }

    public Tensor log() {
        return ElementwiseOps.apply(UnaryOp.LOG, 0, this);
    }

    public Tensor sqrt() {
        return ElementwiseOps.apply(UnaryOp.SQRT, 0, this);
    }

    public Tensor abs() {
        return ElementwiseOps.apply(UnaryOp.ABS, 0, this);
    }

    public Tensor tanh() {
        return ElementwiseOps.apply(UnaryOp.TANH, 0, this);
    }

    /** The error function, elementwise. */
    public Tensor erf() {
        return ElementwiseOps.apply(UnaryOp.ERF, 0, this);
    }

    public Tensor sin() {
        return ElementwiseOps.apply(UnaryOp.SIN, 0, this);
    }

    public Tensor cos() {
        return ElementwiseOps.apply(UnaryOp.COS, 0, this);
    }

    /** x * Phi(x), Phi the standard normal's distribution function: GELU in its exact (erf) form. */
    public Tensor gelu() {
        return ElementwiseOps.apply(UnaryOp.GELU, 0, this);
    }

    /** GELU's tanh approximation: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
    public Tensor geluTanh() {
        return ElementwiseOps.apply(UnaryOp.GELU_TANH, 0, this);
    }

    /**
     * Each element limited to [min, max] (NaN stays NaN); the gradient passes where
     * min <= x <= max, bounds included, as in PyTorch. Composed of comparisons and where.
     */
    public Tensor clamp(double min, double max) {
        requireFloatingPoint("clamp");
        if (Double.isNaN(min) || Double.isNaN(max) || min > max) {
            throw new IllegalArgumentException("clamp: needs min <= max, got min=" + min + " max=" + max);
        }
        Tensor lo = Tensor.full(backend, dtype, min, new int[0]);
        Tensor hi = Tensor.full(backend, dtype, max, new int[0]);
        return where(lt(lo), lo, where(gt(hi), hi, this));
    }

    public Tensor sigmoid() {
        return ElementwiseOps.apply(UnaryOp.SIGMOID, 0, this);
    }

    /**
     * Inverted dropout with a reproducible mask: element i (in row-major order) is kept and scaled
     * by 1/(1-p) when {@code Tensor.rand(FLOAT64, seed, shape())} holds a value >= p at i, and is
     * zeroed otherwise; the gradient goes through the same mask. One backend pass forward and one
     * backward, drawing the mask where it multiplies (the mask is recomputed, not stored); the same
     * seed gives the same mask on every backend and in either dtype. {@link io.grad4j.nn.Dropout}
     * calls it with a fresh seed per training step. p must lie in [0, 1).
     */
    public Tensor dropout(double p, long seed) {
        return ElementwiseOps.dropout(this, p, seed);
    }

    public Tensor relu() {
        return ElementwiseOps.apply(UnaryOp.RELU, 0, this);
    }

    // ---------------------------------------------------------------- linear algebra and shape

    /**
     * this @ w + bias, for this [.., k], w [k, n] and bias [n]: a linear layer (PyTorch's
     * {@code addmm}), with the bias added where the backend writes the product, one call instead
     * of two; the values and gradients are those of {@code matmul(w).add(bias)}. Other shapes are
     * computed as that composition.
     */
    public Tensor matmulAdd(Tensor w, Tensor bias) {
        return MatmulOp.matmulAdd(this, w, bias);
    }

    /** [m,k]@[k,n] -> [m,n]; [m,k]@[k] -> [m]; [k]@[k,n] -> [n]; batched [..,m,k]@[..,k,n]. */
    public Tensor matmul(Tensor o) {
        return MatmulOp.matmul(this, o);
    }

    /** Swaps the last two axes (rank >= 2). */
    public Tensor transpose() {
        checkOpen();
        if (shape.length < 2) {
            throw new IllegalArgumentException("transpose() swaps the last two axes and needs rank >= 2, got shape "
                    + Arrays.toString(shape));
        }
        return ShapeOps.transpose(this, shape.length - 2, shape.length - 1);
    }

    /** Swaps two axes (negative axes count from the end). */
    public Tensor transpose(int axisA, int axisB) {
        checkOpen();
        return ShapeOps.transpose(this, normalizeAxis("transpose", axisA), normalizeAxis("transpose", axisB));
    }

    /**
     * Same data in another shape of the same size; one axis may be -1 (inferred). A view sharing
     * memory wherever the layout allows (always for a contiguous tensor), a copy otherwise.
     */
    public Tensor reshape(int... newShape) {
        return ShapeOps.reshape(this, newShape);
    }

    /** The axes in a new order: axis i of the result is axis {@code axes[i]} of this. A view. */
    public Tensor permute(int... axes) {
        return ViewOps.permute(this, axes);
    }

    /**
     * A broadcast view: each axis of size 1 may take a larger size (read with stride 0) and new
     * leading axes may be added; -1 keeps an axis's size. Writing into it is refused.
     */
    public Tensor expand(int... shape) {
        return ViewOps.expand(this, shape);
    }

    /** Elements {@code start .. start+length-1} along an axis (negative axes count from the end). A view. */
    public Tensor narrow(int axis, long start, long length) {
        return ViewOps.narrow(this, normalizeAxis("narrow", axis), start, length);
    }

    /** The slice at {@code index} along an axis, which is dropped (negative indices count from the end). A view. */
    public Tensor select(int axis, long index) {
        return ViewOps.select(this, normalizeAxis("select", axis), index);
    }

    /**
     * Sliding windows of {@code size} elements, {@code step} apart, along an axis: that axis
     * becomes the number of windows and a new last axis of {@code size} holds each (PyTorch's
     * {@code unfold}). A view; windows overlap when step < size, and their gradients then sum.
     */
    public Tensor unfold(int axis, int size, int step) {
        return ViewOps.unfold(this, normalizeAxis("unfold", axis), size, step);
    }

    /**
     * The kh x kw patches of this image batch [N, C, H, W] as columns [N, C kh kw, OH OW] (im2col,
     * PyTorch's {@code torch.nn.functional.unfold}), zero-padded, with strides and dilation (pairs
     * for the two axes); OH = (H + 2 ph - dh (kh - 1) - 1) / sh + 1. Its gradient adds each column
     * entry back where it was read (col2im). Convolution is a matrix product of these columns.
     */
    public Tensor im2col(int kh, int kw, int[] stride, int[] padding, int[] dilation) {
        return ConvOps.im2col(this, kh, kw, stride, padding, dilation);
    }

    /** A new axis of size 1 at {@code axis} (from -rank-1 to rank). A view. */
    public Tensor unsqueeze(int axis) {
        checkOpen();
        int r = shape.length + 1;
        if (axis < -r || axis >= r) {
            throw new IllegalArgumentException("unsqueeze: axis " + axis + " is out of range for shape "
                    + Arrays.toString(shape) + " (valid: " + (-r) + ".." + (r - 1) + ")");
        }
        return ViewOps.unsqueeze(this, axis < 0 ? axis + r : axis);
    }

    /** Drops an axis of size 1; an axis of another size is left as it is (PyTorch's rule). A view. */
    public Tensor squeeze(int axis) {
        return ViewOps.squeeze(this, normalizeAxis("squeeze", axis));
    }

    // ---------------------------------------------------------------- reductions

    public Tensor sum() {
        return ReductionOps.sumAll(this);
    }

    public Tensor sum(int axis, boolean keepDim) {
        return ReductionOps.sum(this, normalizeAxis("sum", axis), keepDim);
    }

    public Tensor mean() {
        return ReductionOps.meanAll(this);
    }

    public Tensor mean(int axis, boolean keepDim) {
        return ReductionOps.mean(this, normalizeAxis("mean", axis), keepDim);
    }

    /** Largest value along an axis; its gradient goes to the first position holding it. */
    public Tensor max(int axis, boolean keepDim) {
        return ReductionOps.max(this, normalizeAxis("max", axis), keepDim);
    }

    /** Smallest value along an axis: {@code -(-x).max(axis)}, so its gradient goes to the first position holding it. */
    public Tensor min(int axis, boolean keepDim) {
        int a = normalizeAxis("min", axis);
        return neg().max(a, keepDim).neg();
    }

    /**
     * The first position of the largest value along an axis, as INT64 (a NaN counts as largest, as
     * in PyTorch); no gradient. Integer tensors compare as FLOAT64 (exact up to 2^53).
     */
    public Tensor argmax(int axis, boolean keepDim) {
        return IndexingOps.argmax(this, normalizeAxis("argmax", axis), keepDim);
    }

    // ---------------------------------------------------------------- joining and indexing

    /** The tensors joined along an axis (all of one dtype and backend, equal in every other axis). */
    public static Tensor cat(int axis, Tensor... tensors) {
        return JoinOps.cat(axis, tensors);
    }

    /** The tensors (of equal shapes) joined along a new axis ({@code -rank-1 .. rank}). */
    public static Tensor stack(int axis, Tensor... tensors) {
        return JoinOps.stack(axis, tensors);
    }

    /** Views of consecutive sections of an axis, of the given sizes (which sum to the axis's size). */
    public Tensor[] split(int axis, int... sizes) {
        return JoinOps.split(this, axis, sizes);
    }

    /** The entries at {@code index} (1-D, INT32 or INT64) along an axis, in its order, repeats allowed. */
    public Tensor indexSelect(int axis, Tensor index) {
        return IndexingOps.indexSelect(this, normalizeAxis("indexSelect", axis), index);
    }

    /**
     * y[i][j][k] = this[index[i][j][k]][j][k] for axis 0 (and likewise for other axes): index has this
     * tensor's rank and is no larger off the axis; y has the index's shape.
     */
    public Tensor gather(int axis, Tensor index) {
        return IndexingOps.gather(this, normalizeAxis("gather", axis), index);
    }

    /**
     * A copy of this with {@code src}'s entries added at {@code index} along an axis (repeated indices
     * sum, in a fixed order); out of place, with gradients to this and src.
     */
    public Tensor scatterAdd(int axis, Tensor index, Tensor src) {
        return IndexingOps.scatterAdd(this, normalizeAxis("scatterAdd", axis), index, src);
    }

    /** condition ? a : b elementwise, the three broadcast together; condition is BOOL. */
    public static Tensor where(Tensor condition, Tensor a, Tensor b) {
        if (a == null) {
            throw new IllegalArgumentException("where: a is null");
        }
        return IndexingOps.where(condition, a, b);
    }

    /** A copy with {@code value} where the BOOL mask (broadcast to this shape) is true. */
    public Tensor maskedFill(Tensor mask, double value) {
        return IndexingOps.maskedFill(this, mask, value);
    }

    /** this == o elementwise, BOOL, broadcasting (mixed dtypes compare in the wider one). */
    public Tensor eq(Tensor o) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.EQ, this, o);
    }

    public Tensor ne(Tensor o) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.NE, this, o);
    }

    public Tensor lt(Tensor o) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.LT, this, o);
    }

    public Tensor le(Tensor o) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.LE, this, o);
    }

    public Tensor gt(Tensor o) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.GT, this, o);
    }

    public Tensor ge(Tensor o) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.GE, this, o);
    }

    /** this == s elementwise, BOOL (an integer tensor against a fraction compares in FLOAT64). */
    public Tensor eq(double s) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.EQ, this, s);
    }

    public Tensor ne(double s) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.NE, this, s);
    }

    public Tensor lt(double s) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.LT, this, s);
    }

    public Tensor le(double s) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.LE, this, s);
    }

    public Tensor gt(double s) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.GT, this, s);
    }

    public Tensor ge(double s) {
        return IndexingOps.compare(io.grad4j.backend.CompareOp.GE, this, s);
    }

    /**
     * Softmax cross-entropy of each row of these logits [batch, classes] against its label, fused
     * and max-subtracted: shape [batch]. {@link #crossEntropy} is its mean.
     */
    public Tensor crossEntropyPerRow(int[] labels) {
        return CrossEntropyOp.perRow(this, labels);
    }

    /**
     * The mean over the batch of {@link #crossEntropyPerRow}, a scalar, as one fused backend call
     * forward and one backward; the same bits as {@code crossEntropyPerRow(labels).mean()}.
     * {@link io.grad4j.nn.Losses#crossEntropy} is this.
     */
    public Tensor crossEntropy(int[] labels) {
        return CrossEntropyOp.mean(this, labels);
    }

    public Tensor softmax(int axis) {
        return SoftmaxOps.softmax(this, normalizeAxis("softmax", axis), false);
    }

    public Tensor logSoftmax(int axis) {
        return SoftmaxOps.softmax(this, normalizeAxis("logSoftmax", axis), true);
    }

    // ---------------------------------------------------------------- autograd

    /** Marks a leaf as a parameter whose gradient {@link #backward()} accumulates. Returns this. */
    public Tensor requiresGrad(boolean flag) {
        checkOpen();
        if (flag && !dtype.isFloatingPoint()) {
            throw new IllegalArgumentException("requiresGrad: a " + dtype + " tensor " + Arrays.toString(shape)
                    + " carries no gradient (only FLOAT32 and FLOAT64 do; convert with to(DType.FLOAT32) first)");
        }
        if (gradFn != null) {
            throw new IllegalArgumentException("requiresGrad can only be set on leaf tensors; this one was computed by '"
                    + gradFn.op + "' (use detach() to get a leaf)");
        }
        requiresGrad = flag;
        return this;
    }

    public boolean requiresGrad() {
        checkOpen();
        return requiresGrad;
    }

    /** Accumulated gradient (same shape and dtype as this), or null before any backward. */
    public Tensor grad() {
        checkOpen();
        return grad;
    }

    /** Backpropagates from this one-element tensor, seeding with 1; frees the graph. */
    public void backward() {
        checkOpen();
        if (numel != 1) {
            throw new IllegalArgumentException("backward() without an upstream gradient needs a tensor with one "
                    + "element, this one has shape " + Arrays.toString(shape) + "; pass backward(upstream)");
        }
        backward(full(backend, dtype, 1.0, shape), false);
    }

    /** Backpropagates {@code upstream} (this tensor's shape); frees the graph. */
    public void backward(Tensor upstream) {
        backward(upstream, false);
    }

    /** Backpropagates {@code upstream}; with {@code retainGraph} the graph can be walked again. */
    public void backward(Tensor upstream, boolean retainGraph) {
        checkOpen();
        if (upstream == null) {
            throw new IllegalArgumentException("backward: the upstream gradient is null; pass a tensor of shape "
                    + Arrays.toString(shape) + ", or call backward() on a one-element tensor");
        }
        upstream.checkOpen();
        if (!Arrays.equals(upstream.shape, shape)) {
            throw new IllegalArgumentException("backward: upstream gradient has shape " + Arrays.toString(upstream.shape)
                    + " but this tensor has shape " + Arrays.toString(shape));
        }
        if (upstream.dtype != dtype || upstream.backend != backend) {
            throw new IllegalArgumentException("backward: upstream gradient is " + upstream.dtype + " on "
                    + upstream.backend.name() + " but this tensor is " + dtype + " on " + backend.name());
        }
        if (!requiresGrad) {
            throw new IllegalArgumentException("backward: this tensor does not require grad (no input had "
                    + "requiresGrad(true), or it was computed inside Autograd.noGrad())");
        }
        Engine.backward(this, upstream, retainGraph);
    }

    /** The same data without history (shares memory and layout). */
    public Tensor detach() {
        return viewOf(shape, strides, offset);
    }

    /**
     * Sets the accumulated gradient to zeros in place, so references to it (and views of it) stay
     * valid. The zeros are written when the gradient is next read; a backward pass that reaches
     * this tensor copies its gradient over them instead of filling and then adding (the copies
     * of all leaves land together when the pass ends, so a hook that reads this gradient during
     * that pass still sees zeros). Where the
     * backend replays recorded work the host does not see (CUDA graphs, see
     * {@link Backend#canDeferWrites}), the zeros are written at once.
     */
    public void zeroGrad() {
        checkOpen();
        if (grad != null && !grad.isClosed()) {
            if (backend.canDeferWrites()) {
                grad.ref.zeroLater(backend);
            } else {
                backend.fill(grad.storage(), 0.0); // recorded or replayed device work: write now
            }
            grad.markModified();
        }
    }

    /**
     * Registers a function applied to the gradient flowing into this tensor during backward; it
     * returns a replacement gradient or null to keep it. Hooks run in registration order.
     */
    public HookHandle registerHook(UnaryOperator<Tensor> hook) {
        checkOpen();
        if (hooks == null) {
            hooks = new ArrayList<>(2);
        }
        hooks.add(hook);
        return () -> {
            if (hooks != null) {
                hooks.remove(hook);
            }
        };
    }

    /** Removes a hook registered with {@link #registerHook}. */
    @FunctionalInterface
    public interface HookHandle extends AutoCloseable {
        void remove();

        @Override
        default void close() {
            remove();
        }
    }

    /**
     * Overwrites this tensor's values with {@code source}'s, in place (same shape, dtype and
     * backend). Views sharing the memory see the change. For optimizers and initialisation: a
     * tensor that requires grad may only be assigned inside {@link io.grad4j.autograd.Autograd#noGrad()},
     * since the graph would otherwise silently use the new values.
     */
    public void assign(Tensor source) {
        checkCompatible("assign", this, source);
        if (!Arrays.equals(shape, source.shape)) {
            throw new IllegalArgumentException("assign: shapes differ: this " + Arrays.toString(shape)
                    + " vs source " + Arrays.toString(source.shape));
        }
        if (requiresGrad && io.grad4j.autograd.GradMode.isEnabled()) {
            throw new IllegalStateException("assign into a tensor that requires grad must happen inside "
                    + "Autograd.noGrad() (as optimizers do)");
        }
        if (dense && source.dense) {
            backend.copy(source.storage(), storage());
        } else { // into or from a view: one strided copy between the two layouts
            backend.stridedCopy(source.ref.storage(), source.offset, source.stridesInternal(), ref.storage(), offset,
                    stridesInternal(), shape);
        }
        markModified();
        Reference.reachabilityFence(source);
    }

    /**
     * this <- beta * this + alpha * x, in place and in one pass (the backend's axpby): how
     * optimizers update parameters and buffers without temporaries. Same rules as {@link #assign}.
     * Returns this.
     */
    public Tensor updateInPlace(double beta, double alpha, Tensor x) {
        checkCompatible("updateInPlace", this, x);
        requireFloatingPoint("updateInPlace");
        if (!Arrays.equals(shape, x.shape)) {
            throw new IllegalArgumentException("updateInPlace: shapes differ: this " + Arrays.toString(shape)
                    + " vs x " + Arrays.toString(x.shape));
        }
        if (requiresGrad && io.grad4j.autograd.GradMode.isEnabled()) {
            throw new IllegalStateException("updateInPlace on a tensor that requires grad must happen inside "
                    + "Autograd.noGrad() (as optimizers do)");
        }
        if (!dense) { // a view: compute the update, then write it through the view's layout
            Tensor updated = ArithmeticOps.raw(BinaryOp.ADD, ElementwiseOps.raw(UnaryOp.MUL_SCALAR, beta, this),
                    ElementwiseOps.raw(UnaryOp.MUL_SCALAR, alpha, x), shape);
            backend.stridedCopy(updated.storage(), 0, updated.stridesInternal(), ref.storage(), offset, stridesInternal(),
                    shape);
            updated.close();
        } else {
            Tensor xd = x.denseRaw();
            backend.axpby(alpha, xd.storage(), beta, storage());
            xd.closeIfCopyOf(x);
        }
        markModified();
        Reference.reachabilityFence(x);
        return this;
    }

    /** Frees backend memory now (shared views keep it alive); any later use throws. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            gradFn = null;
            tangent = null;
            if (release != null) {
                release.closedExplicitly = true;
            }
            cleanable.clean();
        }
    }

    /**
     * Marks this tensor as long-lived state (optimizer buffers, running statistics): no open
     * {@link TensorScope} will close it. Returns this.
     */
    public Tensor persistent() {
        TensorScope.untrack(this);
        return this;
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        if (closed) {
            return "Tensor(closed)";
        }
        StringBuilder sb = new StringBuilder("Tensor(shape=").append(Arrays.toString(shape))
                .append(", dtype=").append(dtype).append(", backend=").append(backend.name());
        if (gradFn != null) {
            sb.append(", gradFn=").append(gradFn.op);
        } else if (requiresGrad) {
            sb.append(", requiresGrad=true");
        }
        if (numel <= 16) {
            sb.append(", data=").append(switch (dtype) {
                case FLOAT32, FLOAT64 -> Arrays.toString(toDoubleArray());
                case INT32, INT64 -> Arrays.toString(toLongArray());
                case BOOL -> Arrays.toString(toBooleanArray());
            });
        }
        return sb.append(')').toString();
    }

    // ---------------------------------------------------------------- internals for ops and engine

    /**
     * The storage, for handing to a kernel: only for dense tensors (everything operations allocate);
     * an operation that may receive a view calls {@link #denseRaw} or {@link #forKernel} first.
     */
    Storage storage() {
        checkOpen();
        if (!dense) {
            throw new IllegalStateException("internal error: a kernel was handed a view (" + describeLayout()
                    + ") as if it were contiguous; the operation must call forKernel() or denseRaw() first");
        }
        return ref.storage();
    }

    /** This tensor if dense, else a dense copy of it, without history (see {@link #closeIfCopyOf}). */
    Tensor denseRaw() {
        checkOpen();
        return dense ? this : ViewOps.copyRaw(this);
    }

    /** Closes this tensor if it is a copy {@link #denseRaw} made of {@code original}. */
    void closeIfCopyOf(Tensor original) {
        if (this != original) {
            close();
        }
    }

    /** This tensor if dense, else {@link ViewOps#contiguous a recorded copy}: an operation's input for its kernels. */
    Tensor forKernel() {
        checkOpen();
        return dense ? this : ViewOps.contiguous(this);
    }

    boolean isDense() {
        return dense;
    }

    /** The strides (computed for a row-major tensor, which stores none); callers must not change the array. */
    long[] stridesInternal() {
        return strides != null ? strides : BroadcastShape.contiguousStrides(shape);
    }

    long offsetInternal() {
        return offset;
    }

    /** The storage as it is, for a strided copy that reads or writes this view's layout itself. */
    Storage storageOfView() {
        checkOpen();
        return ref.storage();
    }

    /** The number of elements of the storage under this tensor (more than numel for many views). */
    long storageLength() {
        return ref.length();
    }

    String describeLayout() {
        return "shape " + Arrays.toString(shape) + ", strides " + Arrays.toString(stridesInternal()) + ", offset " + offset
                + " in a storage of " + ref.length();
    }

    /**
     * How many in-place writes this tensor's memory has had (shared with its views): assign,
     * updateInPlace, optimizer steps, zeroGrad and gradient accumulation each add one. Operations
     * that need a tensor's values in backward record this number, and backward throws an
     * IllegalStateException naming the operation if it changed (PyTorch's {@code _version}).
     */
    public int version() {
        checkOpen();
        return ref.version();
    }

    /** {@link #version()} without the open check: a closed tensor's buffer still has its count. */
    int versionInternal() {
        return ref.version();
    }

    /** Counts an in-place write to this tensor's memory (see {@link #version()}). */
    void markModified() {
        ref.bumpVersion();
    }

    /** Whether this tensor's buffer holds zeros that {@link #zeroGrad} deferred. */
    boolean zerosPending() {
        return ref.zerosPending();
    }

    /** The deferred-write bookkeeping of this tensor's buffer (for {@link ForeachUpdates}). */
    StorageRef ref() {
        return ref;
    }

    int[] shapeInternal() {
        return shape;
    }

    long numelInternal() {
        return numel;
    }

    DType dtypeInternal() {
        return dtype;
    }

    Backend backendInternal() {
        return backend;
    }

    boolean requiresGradInternal() {
        return requiresGrad;
    }

    Node gradFn() {
        return gradFn;
    }

    /**
     * Gives the operation that computed this tensor its VJP in differentiable operations (see
     * {@link Node}); nothing when no history was recorded. Returns this.
     */
    Tensor withRule(Node.Vjp rule) {
        if (gradFn != null) {
            gradFn.setRule(rule);
        }
        return this;
    }

    void attachHistory(Node node) {
        gradFn = node;
        requiresGrad = true;
    }

    List<UnaryOperator<Tensor>> hooks() {
        return hooks;
    }

    Tensor gradInternal() {
        return grad;
    }

    void setGrad(Tensor g) {
        TensorScope.untrack(g); // a leaf's gradient outlives the step that made it
        grad = g;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this tensor was closed; its memory is gone (shape "
                    + Arrays.toString(shape) + ", " + dtype + ")");
        }
    }

    int normalizeAxis(String op, int axis) {
        checkOpen();
        int r = shape.length;
        if (axis < -r || axis >= r) {
            throw new IllegalArgumentException(op + ": axis " + axis + " is out of range for shape "
                    + Arrays.toString(shape) + (r == 0 ? " (rank 0: a scalar has no axes)"
                    : " (rank " + r + "; valid: " + (-r) + ".." + (r - 1) + ")"));
        }
        return axis < 0 ? axis + r : axis;
    }

    private int checkedHostLength() {
        checkOpen();
        if (numel > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor of " + numel + " elements does not fit in a Java array");
        }
        return (int) numel;
    }

    static void checkShape(String where, int[] shape) {
        io.grad4j.backend.ElementCount.of(where, shape);
    }

    private static void checkData(Object data) {
        if (data == null) {
            throw new IllegalArgumentException("Tensor.of: data is null");
        }
    }

    /** A null dtype would otherwise fall through to one of the two (the cpu backend's FLOAT64) unnoticed. */
    static void checkDtype(String where, DType dtype) {
        if (dtype == null) {
            throw new IllegalArgumentException(where + ": dtype is null (use DType.FLOAT32, FLOAT64, INT32, INT64 or BOOL)");
        }
    }

    private static void checkFloatingDtype(String where, DType dtype) {
        if (dtype == null || !dtype.isFloatingPoint()) {
            throw new IllegalArgumentException(where + ": dtype is " + dtype + "; it draws FLOAT32 or FLOAT64 values");
        }
    }

    /**
     * Refuses an integer or BOOL operand of an arithmetic operation (they hold indices, labels and
     * masks; arithmetic and gradients are for FLOAT32 and FLOAT64).
     */
    void requireFloatingPoint(String op) {
        checkOpen();
        if (!dtype.isFloatingPoint()) {
            throw new IllegalArgumentException(op + " takes FLOAT32 or FLOAT64 tensors, got " + dtype + " "
                    + Arrays.toString(shape) + " (convert it with to(DType.FLOAT32) or to(DType.FLOAT64))");
        }
    }

    private static void checkLength(int length, int[] shape) {
        long n = BroadcastShape.numel(shape);
        if (length != n) {
            throw new IllegalArgumentException("Tensor.of: data has " + length + " elements but shape "
                    + Arrays.toString(shape) + " needs " + n);
        }
    }

    /** Both operands on one backend with one dtype, or an IllegalArgumentException naming both. */
    static void checkCompatible(String op, Tensor a, Tensor b) {
        if (b == null) {
            throw new IllegalArgumentException(op + ": the other operand is null");
        }
        a.checkOpen();
        b.checkOpen();
        if (a.dtype != b.dtype) {
            throw new IllegalArgumentException(op + ": dtypes differ: " + a.dtype + " " + Arrays.toString(a.shape)
                    + " vs " + b.dtype + " " + Arrays.toString(b.shape) + " (convert one with to(DType))");
        }
        if (a.backend != b.backend) {
            throw new IllegalArgumentException(op + ": backends differ: " + a.backend.name() + " vs "
                    + b.backend.name() + " (move one with to(Backend))");
        }
    }
}
