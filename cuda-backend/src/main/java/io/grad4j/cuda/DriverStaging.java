package io.grad4j.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;

import static io.grad4j.cuda.CudaBackend.check;

/**
 * The driver side of {@link PinnedStaging}: buffers from cuMemHostAlloc, each with an event, and
 * asynchronous copies queued on the backend's stream. Out-of-memory when pinning comes back as
 * null so staging falls back to the direct path. Called only under {@link CudaBackend}'s lock.
 */
final class DriverStaging implements StagingDevice<DriverStaging.PinnedBuffer, CUdeviceptr> {
    /** A page-locked host buffer and the event marking the end of the last copy queued on it. */
    record PinnedBuffer(Pointer host, int bytes, CUevent copied) {
    }

    private final CUstream stream;
    private final Runnable bindContext;

    /** {@code bindContext} makes the backend's context current on the calling thread. */
    DriverStaging(CUstream stream, Runnable bindContext) {
        this.stream = stream;
        this.bindContext = bindContext;
    }

    @Override
    public PinnedBuffer allocatePinned(int bytes) {
        bindContext.run();
        Pointer host = new Pointer();
        // no flags: only the backend's own context copies from it, so it need not be portable
        int rc = JCudaDriver.cuMemHostAlloc(host, bytes, 0);
        if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            return null;
        }
        check(rc, "cuMemHostAlloc(" + bytes + ") for a pinned staging buffer");
        CUevent copied = new CUevent();
        rc = JCudaDriver.cuEventCreate(copied, CUevent_flags.CU_EVENT_DISABLE_TIMING);
        if (rc != CUresult.CUDA_SUCCESS) {
            JCudaDriver.cuMemFreeHost(host);
            check(rc, "cuEventCreate for a pinned staging buffer");
        }
        return new PinnedBuffer(host, bytes, copied);
    }

    @Override
    public void freePinned(PinnedBuffer buffer) {
        check(JCudaDriver.cuEventDestroy(buffer.copied()), "cuEventDestroy of a pinned staging buffer's event");
        check(JCudaDriver.cuMemFreeHost(buffer.host()), "cuMemFreeHost of a pinned staging buffer");
    }

    @Override
    public ByteBuffer hostView(PinnedBuffer buffer) {
        ByteBuffer view = buffer.host().getByteBuffer(0, buffer.bytes());
        if (view == null) {
            throw new IllegalStateException("cuda: JCuda gave no ByteBuffer for a pinned staging buffer of "
                    + buffer.bytes() + " bytes from cuMemHostAlloc");
        }
        return view;
    }

    @Override
    public void copyToDeviceAsync(PinnedBuffer buffer, CUdeviceptr device, long deviceOffset, int bytes) {
        check(JCudaDriver.cuMemcpyHtoDAsync(device.withByteOffset(deviceOffset), buffer.host(), bytes, stream),
                "cuMemcpyHtoDAsync of " + bytes + " bytes from a pinned buffer to device offset " + deviceOffset);
    }

    @Override
    public void copyToHostAsync(CUdeviceptr device, long deviceOffset, PinnedBuffer buffer, int bytes) {
        check(JCudaDriver.cuMemcpyDtoHAsync(buffer.host(), device.withByteOffset(deviceOffset), bytes, stream),
                "cuMemcpyDtoHAsync of " + bytes + " bytes from device offset " + deviceOffset + " to a pinned buffer");
    }

    @Override
    public void recordEvent(PinnedBuffer buffer) {
        check(JCudaDriver.cuEventRecord(buffer.copied(), stream), "cuEventRecord after a staged copy");
    }

    @Override
    public void waitEvent(PinnedBuffer buffer) {
        int rc = JCudaDriver.cuEventSynchronize(buffer.copied());
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("cuda: waiting for a staged host-device copy failed (" + CUresult.stringFor(rc)
                    + "); that copy or a kernel queued before it failed and the context is unusable now. "
                    + "Rerun under compute-sanitizer to find it.");
        }
    }
}
