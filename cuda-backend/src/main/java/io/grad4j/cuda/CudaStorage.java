package io.grad4j.cuda;

import io.grad4j.DType;
import io.grad4j.backend.Storage;
import jcuda.driver.CUdeviceptr;

import java.util.concurrent.atomic.AtomicBoolean;

/** A device block holding {@code length} elements of one dtype; release() returns it to the cache. */
final class CudaStorage implements Storage {
    private final CudaBackend owner;
    private final CachingAllocator.Block<CUdeviceptr> block;
    private final DType dtype;
    private final long length;
    private final AtomicBoolean released = new AtomicBoolean();
    private long address; // 0 until address() reads it

    CudaStorage(CudaBackend owner, CachingAllocator.Block<CUdeviceptr> block, DType dtype, long length) {
        this.owner = owner;
        this.block = block;
        this.dtype = dtype;
        this.length = length;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public long length() {
        return length;
    }

    long bytes() {
        return length * elementSize(dtype);
    }

    static long elementSize(DType dtype) {
        return dtype.byteSize();
    }

    CudaBackend owner() {
        return owner;
    }

    /** The device pointer; fails if the storage was released. */
    CUdeviceptr pointer() {
        if (released.get()) {
            throw new IllegalStateException("cuda storage (" + dtype + ", " + length + " elements) was used after release()");
        }
        return block.handle();
    }

    /** The device address, as native code takes it; fails if the storage was released. */
    long address() {
        CUdeviceptr p = pointer();
        long a = address;
        if (a == 0) {
            a = NativeAddress.of(p); // read once: reflection on JCuda's handle
            address = a;
        }
        return a;
    }

    @Override
    public void release() {
        if (released.compareAndSet(false, true)) {
            owner.allocator().release(block);
        }
    }

    @Override
    public String toString() {
        return "CudaStorage[" + dtype + ", " + length + "]";
    }
}
