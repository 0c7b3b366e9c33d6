package io.grad4j.cuda;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The emulated CUDA driver (src/test/cuda/emulated_driver) enforces what a GPU would: otherwise
 * the GPU suites it runs could pass over host-side mistakes a real driver punishes. Each test
 * shows one rule through the driver API directly. Runs only in the emulated-gpu run (the probe
 * names the emulated device); skipped everywhere else, real GPUs included.
 */
class EmulatedDriverTest {
    private static CUcontext context;
    private static CUstream stream;

    @BeforeAll
    static void onlyUnderEmulation() {
        CudaProbe.Result probe = CudaProbe.result();
        assumeTrue(probe.available() && probe.deviceName().startsWith("grad4j emulated GPU"),
                "not the emulated CUDA driver here: " + (probe.available() ? probe.deviceName() : probe.reason()));
        JCudaDriver.setExceptionsEnabled(false);
        CUdevice device = new CUdevice();
        ok(JCudaDriver.cuDeviceGet(device, 0));
        context = new CUcontext();
        ok(JCudaDriver.cuDevicePrimaryCtxRetain(context, device));
        ok(JCudaDriver.cuCtxSetCurrent(context));
        stream = new CUstream();
        ok(JCudaDriver.cuStreamCreate(stream, 0));
    }

    @AfterAll
    static void release() {
        if (stream != null) {
            ok(JCudaDriver.cuStreamDestroy(stream));
            ok(JCudaDriver.cuDevicePrimaryCtxRelease(new CUdevice()));
        }
    }

    /** An async copy reads its host buffer when it runs: reusing the buffer before waiting shows. */
    @Test
    void anAsyncCopyReadsTheHostBufferWhenItRuns() {
        Pointer host = new Pointer();
        ok(JCudaDriver.cuMemHostAlloc(host, 4 * Sizeof.FLOAT, 0));
        CUdeviceptr device = new CUdeviceptr();
        ok(JCudaDriver.cuMemAlloc(device, 4 * Sizeof.FLOAT));
        FloatBuffer staged = host.getByteBuffer(0, 4 * Sizeof.FLOAT).order(ByteOrder.nativeOrder()).asFloatBuffer();
        staged.put(0, new float[] {1, 1, 1, 1});
        ok(JCudaDriver.cuMemcpyHtoDAsync(device, host, 4 * Sizeof.FLOAT, stream));
        staged.put(0, new float[] {2, 2, 2, 2}); // too early: the copy has not run
        ok(JCudaDriver.cuStreamSynchronize(stream));
        float[] back = new float[4];
        ok(JCudaDriver.cuMemcpyDtoH(Pointer.to(back), device, 4 * Sizeof.FLOAT));
        assertArrayEquals(new float[] {2, 2, 2, 2}, back);
        ok(JCudaDriver.cuMemFree(device));
        ok(JCudaDriver.cuMemFreeHost(host));
    }

    /**
     * Only an event's latest record completes it: work finishing up to an earlier record of the
     * same event must not let a wait on the event return before the later work.
     */
    @Test
    void aReRecordedEventWaitsForItsLatestRecord() {
        Pointer in = new Pointer();
        Pointer out = new Pointer();
        ok(JCudaDriver.cuMemHostAlloc(in, Sizeof.FLOAT, 0));
        ok(JCudaDriver.cuMemHostAlloc(out, Sizeof.FLOAT, 0));
        FloatBuffer source = in.getByteBuffer(0, Sizeof.FLOAT).order(ByteOrder.nativeOrder()).asFloatBuffer();
        FloatBuffer result = out.getByteBuffer(0, Sizeof.FLOAT).order(ByteOrder.nativeOrder()).asFloatBuffer();
        source.put(0, 42f);
        result.put(0, 0f);
        CUdeviceptr device = new CUdeviceptr();
        ok(JCudaDriver.cuMemAlloc(device, Sizeof.FLOAT));
        CUevent done = new CUevent();
        CUevent before = new CUevent();
        ok(JCudaDriver.cuEventCreate(done, 0));
        ok(JCudaDriver.cuEventCreate(before, 0));
        ok(JCudaDriver.cuEventRecord(done, stream));
        ok(JCudaDriver.cuEventRecord(before, stream));
        ok(JCudaDriver.cuMemcpyHtoDAsync(device, in, Sizeof.FLOAT, stream));
        ok(JCudaDriver.cuMemcpyDtoHAsync(out, device, Sizeof.FLOAT, stream));
        ok(JCudaDriver.cuEventRecord(done, stream)); // again, after the copies
        ok(JCudaDriver.cuEventSynchronize(before)); // runs the first record of done
        ok(JCudaDriver.cuEventSynchronize(done));
        assertEquals(42f, result.get(0));
        ok(JCudaDriver.cuEventDestroy(done));
        ok(JCudaDriver.cuEventDestroy(before));
        ok(JCudaDriver.cuMemFree(device));
        ok(JCudaDriver.cuMemFreeHost(in));
        ok(JCudaDriver.cuMemFreeHost(out));
    }

    /** Fresh device memory is not zeros (NaN bits here), as on a GPU. */
    @Test
    void freshDeviceMemoryIsNotZero() {
        CUdeviceptr device = new CUdeviceptr();
        ok(JCudaDriver.cuMemAlloc(device, 3 * Sizeof.FLOAT));
        float[] back = new float[3];
        ok(JCudaDriver.cuMemcpyDtoH(Pointer.to(back), device, 3 * Sizeof.FLOAT));
        for (float v : back) {
            assertEquals(Float.NaN, v);
        }
        ok(JCudaDriver.cuMemFree(device));
    }

    /** A synchronous copy while a stream is captured invalidates the capture, as the driver does. */
    @Test
    void aSynchronousCopyDuringACaptureInvalidatesIt() {
        CUdeviceptr device = new CUdeviceptr();
        ok(JCudaDriver.cuMemAlloc(device, Sizeof.FLOAT));
        ok(JCudaDriver.cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED));
        assertEquals(CUresult.CUDA_ERROR_STREAM_CAPTURE_IMPLICIT,
                JCudaDriver.cuMemcpyHtoD(device, Pointer.to(new float[] {1}), Sizeof.FLOAT));
        assertEquals(CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, JCudaDriver.cuStreamSynchronize(stream));
        assertEquals(CUresult.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, JCudaDriver.cuStreamEndCapture(stream, new CUgraph()));
        ok(JCudaDriver.cuMemFree(device));
    }

    /** A captured async copy is replayed from its host buffer's contents at each launch. */
    @Test
    void aGraphReplayReadsItsHostBuffersAgain() {
        Pointer host = new Pointer();
        ok(JCudaDriver.cuMemHostAlloc(host, Sizeof.FLOAT, 0));
        FloatBuffer staged = host.getByteBuffer(0, Sizeof.FLOAT).order(ByteOrder.nativeOrder()).asFloatBuffer();
        CUdeviceptr device = new CUdeviceptr();
        ok(JCudaDriver.cuMemAlloc(device, Sizeof.FLOAT));
        ok(JCudaDriver.cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED));
        ok(JCudaDriver.cuMemcpyHtoDAsync(device, host, Sizeof.FLOAT, stream));
        CUgraph graph = new CUgraph();
        ok(JCudaDriver.cuStreamEndCapture(stream, graph));
        CUgraphExec exec = new CUgraphExec();
        ok(JCudaDriver.cuGraphInstantiate(exec, graph, 0));
        float[] back = new float[1];
        for (float v : new float[] {3, 5}) {
            staged.put(0, v);
            ok(JCudaDriver.cuGraphLaunch(exec, stream));
            ok(JCudaDriver.cuStreamSynchronize(stream));
            ok(JCudaDriver.cuMemcpyDtoH(Pointer.to(back), device, Sizeof.FLOAT));
            assertEquals(v, back[0]);
        }
        ok(JCudaDriver.cuGraphExecDestroy(exec));
        ok(JCudaDriver.cuGraphDestroy(graph));
        ok(JCudaDriver.cuMemFree(device));
        ok(JCudaDriver.cuMemFreeHost(host));
    }

    /** Each thread has its own current context: a thread that never set one gets INVALID_CONTEXT. */
    @Test
    void aThreadWithoutACurrentContextIsRefused() throws InterruptedException {
        AtomicInteger rc = new AtomicInteger(-1);
        Thread t = new Thread(() -> rc.set(JCudaDriver.cuMemAlloc(new CUdeviceptr(), 256)));
        t.start();
        t.join();
        assertEquals(CUresult.CUDA_ERROR_INVALID_CONTEXT, rc.get());
    }

    /** Device memory is bounded: more than is free fails with OUT_OF_MEMORY; copies outside an allocation fail. */
    @Test
    void memoryIsBoundedAndCopiesAreChecked() {
        long[] free = new long[1];
        long[] total = new long[1];
        ok(JCudaDriver.cuMemGetInfo(free, total));
        assertEquals(CUresult.CUDA_ERROR_OUT_OF_MEMORY, JCudaDriver.cuMemAlloc(new CUdeviceptr(), free[0] + 256));
        CUdeviceptr device = new CUdeviceptr();
        ok(JCudaDriver.cuMemAlloc(device, 2 * Sizeof.FLOAT));
        assertEquals(CUresult.CUDA_ERROR_INVALID_VALUE,
                JCudaDriver.cuMemcpyDtoH(Pointer.to(new float[3]), device, 3 * Sizeof.FLOAT));
        ok(JCudaDriver.cuMemFree(device));
    }

    private static void ok(int rc) {
        assertEquals(CUresult.CUDA_SUCCESS, rc, () -> "driver call failed: " + CUresult.stringFor(rc));
    }
}
