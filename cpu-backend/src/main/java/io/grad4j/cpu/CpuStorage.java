package io.grad4j.cpu;

import io.grad4j.DType;
import io.grad4j.backend.DeviceOutOfMemoryException;
import io.grad4j.backend.Storage;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A CPU buffer on the Java heap: float[] for FLOAT32, double[] for FLOAT64, int[] for INT32, long[]
 * for INT64, boolean[] for BOOL (exactly one of the five is set). Heap arrays let the
 * JIT vectorise the elementwise loops and are passed to OpenBLAS without copies (FFM critical
 * calls pin them for the duration of the call), so no native memory needs managing here. Large
 * arrays are reused through {@link ArrayPool} once released.
 */
final class CpuStorage implements Storage {
    /** Arrays of released storages, reused by later allocations of the same length. */
    static final ArrayPool POOL = ArrayPool.forThisHeap();

    final float[] f;
    final double[] d;
    final int[] i;
    final long[] l;
    final boolean[] b;
    private final DType dtype;
    private final int length;
    private final AtomicBoolean released = new AtomicBoolean();

    private CpuStorage(DType dtype, int length, float[] f, double[] d, int[] i, long[] l, boolean[] b) {
        this.dtype = dtype;
        this.length = length;
        this.f = f;
        this.d = d;
        this.i = i;
        this.l = l;
        this.b = b;
    }

    static CpuStorage of(float[] f) {
        return new CpuStorage(DType.FLOAT32, f.length, f, null, null, null, null);
    }

    static CpuStorage of(double[] d) {
        return new CpuStorage(DType.FLOAT64, d.length, null, d, null, null, null);
    }

    static CpuStorage of(int[] i) {
        return new CpuStorage(DType.INT32, i.length, null, null, i, null, null);
    }

    static CpuStorage of(long[] l) {
        return new CpuStorage(DType.INT64, l.length, null, null, null, l, null);
    }

    static CpuStorage of(boolean[] b) {
        return new CpuStorage(DType.BOOL, b.length, null, null, null, null, b);
    }

    static CpuStorage allocate(DType dtype, long length) {
        if (length > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the cpu backend holds at most " + (Integer.MAX_VALUE - 8)
                    + " elements per tensor (Java arrays), requested " + length);
        }
        int n = (int) length;
        try {
            return fresh(dtype, n);
        } catch (OutOfMemoryError first) {
            // the pool's kept arrays may be what fills the heap (as the cuda allocator empties its
            // cache before giving up): drop them and try once more
            POOL.clear();
        }
        try {
            return fresh(dtype, n);
        } catch (OutOfMemoryError e) {
            // one array too large for the heap: the JVM is still healthy, so say what to do,
            // with the same type a GPU's out-of-memory has
            long bytes = length * dtype.byteSize();
            Runtime rt = Runtime.getRuntime();
            throw new DeviceOutOfMemoryException("cpu: out of Java heap allocating " + bytes + " bytes for a "
                    + dtype + " tensor of " + length + " elements: the heap is at most " + rt.maxMemory()
                    + " bytes (-Xmx) and " + rt.freeMemory() + " of its current " + rt.totalMemory()
                    + " are free. Close tensors you no longer need, use smaller batches, or raise -Xmx.", bytes, e);
        }
    }

    /** Floating-point arrays come from the pool; the integer types are rare and small (indices, labels, masks). */
    private static CpuStorage fresh(DType dtype, int n) {
        return switch (dtype) {
            case FLOAT32 -> of(POOL.floats(n));
            case FLOAT64 -> of(POOL.doubles(n));
            case INT32 -> of(new int[n]);
            case INT64 -> of(new long[n]);
            case BOOL -> of(new boolean[n]);
        };
    }

    /** FLOAT32 (the float kernels' test; the arithmetic ones take FLOAT32 or FLOAT64 only). */
    boolean isFloat() {
        return f != null;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public long length() {
        return length;
    }

    int size() {
        return length;
    }

    /** The one array that holds the values. */
    Object array() {
        return switch (dtype) {
            case FLOAT32 -> f;
            case FLOAT64 -> d;
            case INT32 -> i;
            case INT64 -> l;
            case BOOL -> b;
        };
    }

    /** Element k converted to double (for the dtype-generic paths: cast, download, strided copies of integers). */
    double get(int k) {
        return switch (dtype) {
            case FLOAT32 -> f[k];
            case FLOAT64 -> d[k];
            case INT32 -> i[k];
            case INT64 -> l[k];
            case BOOL -> b[k] ? 1 : 0;
        };
    }

    /**
     * Gives the array to {@link #POOL} for a later storage of its length, once (a second release
     * does nothing). Core releases a storage when no tensor can reach it any more; an array the
     * pool does not keep is left to the garbage collector.
     */
    @Override
    public void release() {
        if (released.compareAndSet(false, true)) {
            if (f != null) {
                POOL.give(f);
            } else if (d != null) {
                POOL.give(d);
            }
        }
    }
}
