package io.grad4j.cpu;

import io.grad4j.DType;
import io.grad4j.backend.Storage;

/**
 * A CPU buffer on the Java heap: float[] for FLOAT32, double[] for FLOAT64. Heap arrays let the
 * JIT vectorise the elementwise loops and are passed to OpenBLAS without copies (FFM critical
 * calls pin them for the duration of the call), so no native memory needs managing here.
 */
final class CpuStorage implements Storage {
    final float[] f;
    final double[] d;

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
        return dtype == DType.FLOAT32 ? of(new float[n]) : of(new double[n]);
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

    @Override
    public void release() {
        // heap memory: the garbage collector takes it back once no tensor refers to it
    }
}
