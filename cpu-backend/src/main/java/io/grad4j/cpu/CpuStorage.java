package io.grad4j.cpu;

import io.grad4j.DType;
import io.grad4j.backend.DeviceOutOfMemoryException;
import io.grad4j.backend.Storage;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A CPU buffer on the Java heap: float[] for FLOAT32, double[] for FLOAT64. Heap arrays let the
 * JIT vectorise the elementwise loops and are passed to OpenBLAS without copies (FFM critical
 * calls pin them for the duration of the call), so no native memory needs managing here. Large
 * arrays are reused through {@link ArrayPool} once released.
 */
final class CpuStorage implements Storage {
    /** Arrays of released storages, reused by later allocations of the same length. */
    static final ArrayPool POOL = ArrayPool.forThisHeap();

    final float[] f;
    final double[] d;
    private final AtomicBoolean released = new AtomicBoolean();

    private CpuStorage(float[] f, double[] d) {
        this.f = f;
        this.d = d;
    }

    static CpuStorage of(float[] f) {
        return new CpuStorage(f, null);
    }

    static CpuStorage of(double[] d) {
        return new CpuStorage(null, d);
    }

    static CpuStorage allocate(DType dtype, long length) {
        if (length > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the cpu backend holds at most " + (Integer.MAX_VALUE - 8)
                    + " elements per tensor (Java arrays), requested " + length);
        }
        int n = (int) length;
        try {
            return dtype == DType.FLOAT32 ? of(POOL.floats(n)) : of(POOL.doubles(n));
        } catch (OutOfMemoryError first) {
            // the pool's kept arrays may be what fills the heap (as the cuda allocator empties its
            // cache before giving up): drop them and try once more
            POOL.clear();
        }
        try {
            return dtype == DType.FLOAT32 ? of(POOL.floats(n)) : of(POOL.doubles(n));
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

    boolean isFloat() {
        return f != null;
    }

    @Override
    public DType dtype() {
        return f != null ? DType.FLOAT32 : DType.FLOAT64;
    }

    @Override
    public long length() {
        return f != null ? f.length : d.length;
    }

    int size() {
        return f != null ? f.length : d.length;
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
            } else {
                POOL.give(d);
            }
        }
    }
}
