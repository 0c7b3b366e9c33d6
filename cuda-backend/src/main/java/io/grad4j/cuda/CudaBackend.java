package io.grad4j.cuda;

import io.grad4j.DType;
import io.grad4j.backend.AdamStep;
import io.grad4j.backend.Backend;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.CompareOp;
import io.grad4j.backend.IndexLayout;
import io.grad4j.backend.CounterStream;
import io.grad4j.backend.MatmulShape;
import io.grad4j.backend.ReduceOp;
import io.grad4j.backend.Storage;
import io.grad4j.backend.StridedLayout;
import io.grad4j.backend.UnaryOp;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The CUDA backend: storages are device blocks from a {@link CachingAllocator}, every primitive is
 * one launch of a kernel from grad4j_kernels.fatbin (loaded with cuModuleLoadData) on a single
 * stream, and nothing waits for the GPU except {@link #download} and {@link #synchronize}.
 * Matrix products use cuBLAS when libcublas.so.12 loads and the builtin tiled kernel otherwise
 * ({@code grad4j.cuda.gemm=auto|cublas|builtin}).
 *
 * <p>The stream is a blocking one: the synchronous host copies (which run on the legacy default
 * stream) are therefore ordered after all queued kernels, and kernels queued later after them.
 * Methods are synchronized: one stream, one queue.
 *
 * <p>Copies of 256 KiB and more go through {@link PinnedStaging}: chunks in page-locked buffers,
 * copied asynchronously on the stream itself, so they are ordered with kernels the same way.
 * Smaller copies, and all copies once the OS has refused pinned memory, stay synchronous and
 * direct (a download that converts dtypes then goes through a temporary array of full size).
 */
public final class CudaBackend implements Backend {
    private static final System.Logger LOG = System.getLogger(CudaBackend.class.getName());
    static final String FATBIN = "/io/grad4j/cuda/grad4j_kernels.fatbin";
    /**
     * Every kernel of grad4j_kernels.cu (KernelBinaryTest keeps this equal to the source's
     * {@code extern "C"} list). All are looked up when the backend starts, so that no function is
     * loaded while a CUDA graph capture is recording.
     */
    static final List<String> KERNELS = kernelNames(
            List.of("fill", "unary", "unary_backward", "axpby", "axpby_list", "copy_list", "adam_list", "binary_contig", "binary_rows", "binary_strided",
                    "strided_copy", "reduce_rows_block", "reduce_rows", "reduce_cols", "reduce_cols_wide", "max_backward_rows",
                    "max_backward_cols", "softmax_rows", "softmax_cols", "softmax_backward_rows", "softmax_backward_cols",
                    "gemm", "gemm_splitk_sum", "cross_entropy", "cross_entropy_backward", "cross_entropy_small",
                    "cross_entropy_small_backward", "cross_entropy_mean", "cross_entropy_mean_backward",
                    "cross_entropy_small_mean_backward", "dropout", "argmax", "gather", "scatter_add", "compare", "where"),
            List.of("cast_f2d", "cast_d2f", "gemm128_f32", "gemm_tf32", "cast_any", "fill_i32", "fill_i64", "fill_u8",
                    "strided_copy_i32", "strided_copy_i64", "strided_copy_u8", "gather_i32", "gather_i64", "gather_u8",
                    "scatter_add_i32", "scatter_add_i64", "compare_i32", "compare_i64", "compare_u8", "where_i32",
                    "where_i64", "where_u8"));

    private static List<String> kernelNames(List<String> bothDtypes, List<String> single) {
        List<String> all = new ArrayList<>(single);
        for (String base : bothDtypes) {
            all.add(base + "_f32");
            all.add(base + "_f64");
        }
        return List.copyOf(all);
    }

    private static final int THREADS = 256;
    /** A null device pointer as a kernel argument (8 bytes of zero), for an optional operand left out. */
    private static final Long NULL_POINTER = 0L;
    private static final int MAX_BLOCKS = 1 << 16; // grid-stride loops cover the rest
    private static final int MAX_GRID_Z = 65535;
    /**
     * Rows at least this long are reduced by a whole block rather than one warp. The fused mean
     * cross-entropy kernel sums as reduce does on either side of it (its CE_MEAN_CHUNK).
     */
    private static final int LONG_ROW = 4096;
    /** Rows shorter than this (a classifier's logits) get a thread each, summed in the cpu's order. */
    private static final int SMALL_ROW = 64;
    /** The fused mean cross-entropy's one block: reduce_rows_block's size, whose order it keeps. */
    private static final int FUSED_MEAN_THREADS = 1024;
    /**
     * The most logits the fused mean cross-entropy takes in its one block (8 per thread; a batch
     * of 128 digits is 1,280). One SM computes every row's exp and log in double there: about
     * 40 double operations per logit at 64 per clock make some 5,000 clocks (3 us) at this limit,
     * about what the two launches it saves cost, while the composition spreads larger batches
     * over the whole GPU. An estimate, not a measurement: to be timed on a GPU (a batch of 8,192
     * digits, 81,920 logits, takes the composition).
     */
    private static final long FUSED_MEAN_MAX_LOGITS = 1 << 13;
    /**
     * Column reductions with at least this long an axis and fewer than {@link #WIDE_MAX_COLUMNS}
     * outputs split each column over 32 lanes; with more outputs, one thread per column already
     * has enough threads to hide memory latency.
     */
    private static final int WIDE_AXIS = 64;
    private static final long WIDE_MAX_COLUMNS = 32768;
    /** Shorter rows go through the general strided kernel: a row-per-block grid would idle most threads. */
    private static final int ROW_BROADCAST_MIN_COLS = 128;

    private final CudaProbe.Result device;
    private final CUcontext context;
    private final CUstream stream;
    private final CUmodule module;
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final CachingAllocator<CUdeviceptr> allocator;
    /**
     * Its pinned buffers are never freed: the backend has no teardown (Backends keeps it for the life
     * of the JVM, with its context), and the OS releases page-locked memory when the process exits.
     */
    private final PinnedStaging<DriverStaging.PinnedBuffer, CUdeviceptr> staging;
    private final GemmEngine cublas;
    private final String gemmEngine;
    private final boolean tf32;
    private final int multiprocessors;
    private final KernelLauncher launcher;
    // DeviceActivity counters; every device call runs inside this object's monitor
    private long launches;
    private long synchronizations;
    private long uploads;
    private long uploadBytes;
    private long downloads;
    private long downloadBytes;
    /** Host arrays uploaded during the CUDA graph capture in progress; null when not capturing. */
    private List<CudaGraph.HostInput> captureInputs;
    /** Per-kernel GPU timing, null unless {@link #profileKernels} turned it on. */
    private KernelProfile<CUevent> profile;
    /** CudaGraphs captured and not yet closed (see canDeferWrites). */
    private int liveGraphs;
    private final ThreadLocal<Boolean> contextBound = ThreadLocal.withInitial(() -> false);
    /**
     * Three INT64s on the device where gather and scatter_add report an index out of range
     * ({flag, index, axis size}); outside the caching allocator, so that it never counts as the
     * user's memory, and zero unless a kernel found a bad index.
     */
    private final CUdeviceptr indexErrors = new CUdeviceptr();
    /** Whether an index kernel ran (or a graph replayed) since indexErrors was last read. */
    private boolean indexErrorsUnread;
    private boolean indexKernelsLaunched;

    private CudaBackend(CudaProbe.Result device, CUcontext context, CUstream stream, CUmodule module,
                        GemmEngine cublas, String gemmEngine, boolean tf32, int multiprocessors, KernelLauncher launcher) {
        this.device = device;
        this.context = context;
        this.stream = stream;
        this.module = module;
        this.cublas = cublas;
        this.gemmEngine = gemmEngine;
        this.tf32 = tf32;
        this.multiprocessors = multiprocessors;
        this.allocator = new CachingAllocator<>(new DriverMemory());
        for (String kernel : KERNELS) {
            function(kernel);
        }
        this.staging = new PinnedStaging<>(new DriverStaging(stream, this::bind));
        contextBound.set(true);
        check(JCudaDriver.cuMemAlloc(indexErrors, INDEX_ERROR_BYTES), "cuMemAlloc(index error slot)");
        clearIndexErrors();
        this.launcher = proveLauncher(launcher);
    }

    /**
     * The foreign-function launcher checks itself once before any real work: it fills a small
     * block with a known value and the block is read back. If that fails, {@code auto} falls back
     * to JCuda's launch path with a warning, and {@code native} (asked for explicitly) refuses to
     * start. JCuda's own path needs no check.
     */
    private KernelLauncher proveLauncher(KernelLauncher candidate) {
        if (candidate instanceof KernelLauncher.JCudaLauncher) {
            return candidate;
        }
        int n = 1000;
        float value = 42.5f;
        String problem;
        CudaStorage probe = null;
        try {
            probe = new CudaStorage(this, allocator.allocate((long) n * Float.BYTES), DType.FLOAT32, n);
            int rc = candidate.launch(function("fill_f32"), 4, 1, 1, THREADS, stream, new Object[] {probe, (long) n, value});
            float[] back = new float[n];
            if (rc != CUresult.CUDA_SUCCESS) {
                problem = "cuLaunchKernel returned " + CUresult.stringFor(rc);
            } else if ((rc = JCudaDriver.cuMemcpyDtoH(Pointer.to(back), probe.pointer(), (long) n * Float.BYTES))
                    != CUresult.CUDA_SUCCESS) {
                problem = "reading the filled block back failed: " + CUresult.stringFor(rc);
            } else {
                int wrong = 0;
                for (float v : back) {
                    wrong += v == value ? 0 : 1;
                }
                problem = wrong == 0 ? null : wrong + " of " + n + " elements filled with " + value + " read back otherwise";
            }
        } catch (RuntimeException | LinkageError e) {
            problem = CudaProbe.oneLine(e);
        } finally {
            if (probe != null) {
                probe.release();
            }
        }
        if (problem == null) {
            return candidate;
        }
        String message = "the native kernel launcher (" + candidate.describe() + ") failed its start-up check: " + problem;
        // a kernel that faulted (a mis-packed pointer) leaves a sticky error: the context is lost
        // for every launch path, so falling back would only move the failure to the next call
        int sticky = JCudaDriver.cuCtxSynchronize();
        if (sticky != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException(message + "; the CUDA context is unusable afterwards ("
                    + CUresult.stringFor(sticky) + "): restart with " + KernelLauncher.PROPERTY + "=jcuda");
        }
        if ("native".equalsIgnoreCase(System.getProperty(KernelLauncher.PROPERTY, "auto").trim())) {
            throw new IllegalStateException(message + " (use " + KernelLauncher.PROPERTY + "=jcuda)");
        }
        LOG.log(System.Logger.Level.WARNING, "grad4j cuda: " + message + "; using JCuda's launch path");
        return new KernelLauncher.JCudaLauncher();
    }

    /** Retains the device's primary context, creates the stream, loads the kernels, picks the matmul engine. */
    static CudaBackend create(CudaProbe.Result probe, GemmChoice gemm) {
        // chosen first: a refused grad4j.cuda.launcher then leaves no context, stream or module
        // behind (a failed start-up check of the launcher releases them below)
        List<String> launcherNotes = new ArrayList<>();
        KernelLauncher launcher = KernelLauncher.choose(launcherNotes);
        launcherNotes.forEach(n -> LOG.log(System.Logger.Level.INFO, "grad4j cuda: " + n));
        CUdevice dev = new CUdevice();
        check(JCudaDriver.cuDeviceGet(dev, probe.device()), "cuDeviceGet");
        CUcontext ctx = new CUcontext();
        check(JCudaDriver.cuDevicePrimaryCtxRetain(ctx, dev), "cuDevicePrimaryCtxRetain");
        check(JCudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        CUstream stream = new CUstream();
        // a blocking stream (flags 0), on purpose: the synchronous copies (small downloads, copies
        // from the Java heap) run on the legacy stream, which then waits for this stream's work
        check(JCudaDriver.cuStreamCreate(stream, 0), "cuStreamCreate");
        CUmodule module = new CUmodule();
        byte[] image = readFatbin();
        int rc = JCudaDriver.cuModuleLoadData(module, image);
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("cuda: could not load grad4j_kernels.fatbin (" + CUresult.stringFor(rc)
                    + ") on " + probe.deviceName() + " (compute capability " + probe.computeCapabilityString()
                    + ", driver CUDA " + probe.driverVersionString() + "); it holds sm_80/sm_90 code and compute_90 PTX");
        }
        int[] sms = new int[1];
        check(JCudaDriver.cuDeviceGetAttribute(sms, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev),
                "cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)");
        boolean tf32 = tf32Requested();
        GemmEngine cublas = null;
        String engine = tf32
                ? "builtin TF32 tensor-core kernel for FLOAT32 (" + GemmPlan.TF32_PROPERTY + "=true; 128x128 tiles, split-K)"
                + ", 64x64 tiles for FLOAT64"
                : "builtin tiled kernels (FLOAT32: 128x128 tiles, 8x8 per thread, 64x64 for thin products;"
                + " FLOAT64: 64x64; split-K when output tiles are few)";
        if (gemm != GemmChoice.BUILTIN) {
            List<String> why = new ArrayList<>();
            cublas = loadCublas(stream, tf32, why);
            if (cublas != null) {
                engine = cublas.describe();
            } else if (gemm == GemmChoice.CUBLAS) {
                throw new IllegalStateException(GemmChoice.PROPERTY + "=cublas but cuBLAS could not be loaded: "
                        + String.join("; ", why) + " (use " + GemmChoice.PROPERTY + "=builtin)");
            } else {
                LOG.log(System.Logger.Level.INFO, "grad4j cuda: cuBLAS unavailable (" + String.join("; ", why) + "); matmul uses the builtin kernels");
                engine += "; cuBLAS unavailable";
            }
        }
        try {
            return new CudaBackend(probe, ctx, stream, module, cublas, engine, tf32, sms[0], launcher);
        } catch (RuntimeException | LinkageError e) {
            // the launcher's start-up check (or a kernel lookup) failed: give back what was made
            JCudaDriver.cuModuleUnload(module);
            JCudaDriver.cuStreamDestroy(stream);
            JCudaDriver.cuDevicePrimaryCtxRelease(dev);
            throw e;
        }
    }

    /**
     * cuBLAS through JCublas2 when libcublas.so.12 loads, else the installed libcublas.so.13/.12
     * called directly (JCublas 12.6 cannot bind CUDA 13's library); null, with each reason in
     * {@code why}, when neither works.
     */
    private static GemmEngine loadCublas(CUstream stream, boolean tf32, List<String> why) {
        try {
            return CublasGemm.load(stream, tf32);
        } catch (LinkageError | RuntimeException e) {
            why.add("JCublas2: " + CudaProbe.oneLine(e));
        }
        try {
            return NativeCublasGemm.load(stream, tf32);
        } catch (LinkageError | RuntimeException e) {
            why.add("direct: " + CudaProbe.oneLine(e));
        }
        return null;
    }

    /** {@value GemmPlan#TF32_PROPERTY}: FLOAT32 matmul on tensor cores with inputs rounded to TF32 (off by default). */
    static boolean tf32Requested() {
        String v = System.getProperty(GemmPlan.TF32_PROPERTY, "false").trim();
        if (v.equalsIgnoreCase("true")) {
            return true;
        }
        if (v.equalsIgnoreCase("false") || v.isEmpty()) {
            return false;
        }
        throw new IllegalArgumentException(GemmPlan.TF32_PROPERTY + " must be true or false, got '" + v + "'");
    }

    private static byte[] readFatbin() {
        try (InputStream in = CudaBackend.class.getResourceAsStream(FATBIN)) {
            if (in == null) {
                throw new IllegalStateException("cuda: " + FATBIN + " is missing from the classpath (rebuild grad4j-cuda-backend)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cuda: could not read " + FATBIN + ": " + e, e);
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String description() {
        return "cuda: device " + device.device() + " " + device.deviceName() + " (compute capability "
                + device.computeCapabilityString() + ", " + (device.totalMemory() >> 20) + " MiB), driver CUDA "
                + device.driverVersionString() + ", matmul engine " + gemmEngine + ", kernel launches via "
                + launcher.describe();
    }

    /** The device's streaming multiprocessors (what GemmPlan fills). */
    int multiprocessors() {
        return multiprocessors;
    }

    /** Name of the matrix engine in use. */
    public String gemmEngine() {
        return gemmEngine;
    }

    /** The allocator's current bookkeeping. */
    public CachingAllocator.Stats memoryStats() {
        return allocator.stats();
    }

    /** Kernel launches, stream waits and host-device copies since this backend was created. */
    public synchronized DeviceActivity activity() {
        return new DeviceActivity(launches, synchronizations, uploads, uploadBytes, downloads, downloadBytes);
    }

    /**
     * Turns per-kernel GPU timing on or off: while on, every launch outside a graph capture is
     * bracketed by two stream events and {@link #kernelProfile()} reports device milliseconds per
     * kernel. It adds host time to each launch, so it shows where device time goes, not how fast a
     * step runs. Turning it off drops what was collected.
     */
    public synchronized void profileKernels(boolean on) {
        refuseDuringCapture("profileKernels()");
        bind();
        if (on && profile == null) {
            profile = new KernelProfile<>(new DriverEvents(stream));
        } else if (!on && profile != null) {
            KernelProfile<CUevent> closing = profile;
            profile = null;
            closing.close();
        }
    }

    /**
     * Device time per kernel since profiling was turned on or last reported, most first, as a
     * table (kernel, launches, milliseconds, share, microseconds per launch); waits for the
     * profiled work to finish, then starts the next period. Empty when profiling is off.
     */
    public synchronized String kernelProfile() {
        refuseDuringCapture("kernelProfile()");
        if (profile == null) {
            return "";
        }
        bind();
        String table = KernelProfile.format(profile.report());
        profile.clear();
        return table;
    }

    /** Stream events through the driver, for {@link KernelProfile}. */
    private record DriverEvents(CUstream stream) implements KernelProfile.Events<CUevent> {
        @Override
        public CUevent create() {
            CUevent e = new CUevent();
            check(JCudaDriver.cuEventCreate(e, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
            return e;
        }

        @Override
        public void record(CUevent event) {
            check(JCudaDriver.cuEventRecord(event, stream), "cuEventRecord");
        }

        @Override
        public void synchronize(CUevent event) {
            check(JCudaDriver.cuEventSynchronize(event), "cuEventSynchronize");
        }

        @Override
        public float elapsedMillis(CUevent start, CUevent end) {
            float[] ms = new float[1];
            check(JCudaDriver.cuEventElapsedTime(ms, start, end), "cuEventElapsedTime");
            return ms[0];
        }

        @Override
        public void destroy(CUevent event) {
            check(JCudaDriver.cuEventDestroy(event), "cuEventDestroy");
        }
    }

    /** Free device memory in bytes now, as the driver reports it (cached blocks count as used). */
    public synchronized long freeDeviceBytes() {
        return allocator.device().freeBytes();
    }

    /** Frees every cached (unused) device block. */
    public synchronized void emptyCache() {
        refuseDuringCapture("emptyCache()");
        bind();
        allocator.emptyCache();
    }

    /** Host-device copies so far, staged through pinned memory or direct. */
    public PinnedStaging.Stats transferStats() {
        return staging.stats();
    }

    CachingAllocator<CUdeviceptr> allocator() {
        return allocator;
    }

    // ------------------------------------------------------------------ storage

    @Override
    public synchronized Storage allocate(DType dtype, long length) {
        if (length < 0) {
            throw new IllegalArgumentException("cuda: cannot allocate " + length + " elements");
        }
        bind();
        return new CudaStorage(this, allocator.allocate(length * CudaStorage.elementSize(dtype)), dtype, length);
    }

    @Override
    public synchronized Storage upload(double[] data) {
        if (captureInputs != null) {
            return recordInput(data, DType.FLOAT64, data.length, -1);
        }
        CudaStorage s = (CudaStorage) allocate(DType.FLOAT64, data.length);
        hostToDevice(data, s.pointer());
        return s;
    }

    /** During a capture: a fresh block for a host array the graph copies again before every replay. */
    private CudaStorage recordInput(Object array, DType dtype, int length, int labelLimit) {
        bind();
        CudaStorage s = new CudaStorage(this, allocator.allocateInput(length * CudaStorage.elementSize(dtype)), dtype, length);
        captureInputs.add(new CudaGraph.HostInput(array, s.pointer(), dtype, labelLimit));
        return s;
    }

    private void hostToDevice(double[] data, CUdeviceptr target) {
        uploads++;
        uploadBytes += (long) data.length * Double.BYTES;
        if (data.length > 0 && !staging.upload(data, target)) {
            check(JCudaDriver.cuMemcpyHtoD(target, Pointer.to(data), (long) data.length * Double.BYTES), "cuMemcpyHtoD");
        }
    }

    @Override
    public synchronized Storage upload(float[] data) {
        if (captureInputs != null) {
            return recordInput(data, DType.FLOAT32, data.length, -1);
        }
        CudaStorage s = (CudaStorage) allocate(DType.FLOAT32, data.length);
        hostToDevice(data, s.pointer());
        return s;
    }

    private void hostToDevice(float[] data, CUdeviceptr target) {
        uploads++;
        uploadBytes += (long) data.length * Float.BYTES;
        if (data.length > 0 && !staging.upload(data, target)) {
            check(JCudaDriver.cuMemcpyHtoD(target, Pointer.to(data), (long) data.length * Float.BYTES), "cuMemcpyHtoD");
        }
    }

    @Override
    public synchronized Storage upload(int[] data) {
        return integersToDevice(DType.INT32, data.length, Pointer.to(data));
    }

    @Override
    public synchronized Storage upload(long[] data) {
        return integersToDevice(DType.INT64, data.length, Pointer.to(data));
    }

    @Override
    public synchronized Storage upload(boolean[] data) {
        byte[] bytes = new byte[data.length];
        for (int i = 0; i < data.length; i++) {
            bytes[i] = data[i] ? (byte) 1 : 0;
        }
        return integersToDevice(DType.BOOL, data.length, Pointer.to(bytes));
    }

    /** A new INT32, INT64 or BOOL storage filled by an unstaged copy (indices, labels and masks are small and rare). */
    private CudaStorage integersToDevice(DType dtype, int length, Pointer host) {
        refuseDuringCapture("an " + dtype + " upload");
        CudaStorage s = (CudaStorage) allocate(dtype, length);
        uploads++;
        uploadBytes += s.bytes();
        if (length > 0) {
            check(JCudaDriver.cuMemcpyHtoD(s.pointer(), host, s.bytes()), "cuMemcpyHtoD");
        }
        return s;
    }

    @Override
    public synchronized void download(Storage src, int[] dst) {
        integersToHost(src, DType.INT32, dst.length, Pointer.to(dst));
    }

    @Override
    public synchronized void download(Storage src, long[] dst) {
        integersToHost(src, DType.INT64, dst.length, Pointer.to(dst));
    }

    @Override
    public synchronized void download(Storage src, boolean[] dst) {
        byte[] bytes = new byte[dst.length];
        integersToHost(src, DType.BOOL, dst.length, Pointer.to(bytes));
        for (int i = 0; i < dst.length; i++) {
            dst[i] = bytes[i] != 0;
        }
    }

    /** The unstaged copy of an INT32, INT64 or BOOL storage into a host array of {@code length} elements. */
    private void integersToHost(Storage src, DType dtype, int length, Pointer host) {
        CudaStorage s = startDownload(src, length);
        requireDtype("download", s, dtype);
        if (length > 0) {
            deviceToHost(host, s);
        }
    }

    private static void requireDtype(String op, CudaStorage s, DType dtype) {
        if (s.dtype() != dtype) {
            throw new IllegalArgumentException(op + ": a " + s.dtype() + " storage where " + dtype + " is needed");
        }
    }

    /** cast_any's numbering of the dtypes (its DtypeCode enum). */
    private static int dtypeCode(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> 0;
            case FLOAT64 -> 1;
            case INT32 -> 2;
            case INT64 -> 3;
            case BOOL -> 4;
        };
    }

    @Override
    public synchronized void download(Storage src, double[] dst) {
        CudaStorage s = startDownload(src, dst.length);
        if (!s.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("download: a " + s.dtype() + " storage where FLOAT32 or FLOAT64 is needed");
        }
        if (dst.length > 0 && !staging.download(s.pointer(), s.dtype(), dst)) {
            if (s.dtype() == DType.FLOAT64) {
                deviceToHost(Pointer.to(dst), s);
            } else {
                float[] tmp = new float[dst.length];
                deviceToHost(Pointer.to(tmp), s);
                for (int i = 0; i < tmp.length; i++) {
                    dst[i] = tmp[i];
                }
            }
        }
        sync(); // surfaces asynchronous kernel errors at the first point the caller waits anyway
    }

    @Override
    public synchronized void download(Storage src, float[] dst) {
        CudaStorage s = startDownload(src, dst.length);
        if (!s.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("download: a " + s.dtype() + " storage where FLOAT32 or FLOAT64 is needed");
        }
        if (dst.length > 0 && !staging.download(s.pointer(), s.dtype(), dst)) {
            if (s.dtype() == DType.FLOAT32) {
                deviceToHost(Pointer.to(dst), s);
            } else {
                double[] tmp = new double[dst.length];
                deviceToHost(Pointer.to(tmp), s);
                for (int i = 0; i < tmp.length; i++) {
                    dst[i] = (float) tmp[i];
                }
            }
        }
        sync();
    }

    /** What every download checks and counts before copying. */
    private CudaStorage startDownload(Storage src, int length) {
        CudaStorage s = cuda(src);
        checkLength("download", s.length(), length);
        refuseDuringCapture("download (item(), toArray())");
        bind();
        downloads++;
        downloadBytes += s.bytes();
        return s;
    }

    /** The direct (unstaged) copy of all of s into host memory. */
    private void deviceToHost(Pointer dst, CudaStorage s) {
        check(JCudaDriver.cuMemcpyDtoH(dst, s.pointer(), s.bytes()), "cuMemcpyDtoH");
    }

    @Override
    public synchronized void copy(Storage src, Storage dst) {
        CudaStorage s = cuda(src);
        CudaStorage d = cuda(dst);
        checkLength("copy", s.length(), d.length());
        if (s.dtype() != d.dtype()) {
            throw new IllegalArgumentException("copy: dtypes differ (" + s.dtype() + " -> " + d.dtype() + "); use cast");
        }
        bind();
        if (s.length() > 0) {
            check(JCudaDriver.cuMemcpyDtoDAsync(d.pointer(), s.pointer(), s.bytes(), stream), "cuMemcpyDtoDAsync");
        }
    }

    @Override
    public synchronized void cast(Storage src, Storage dst) {
        CudaStorage s = cuda(src);
        CudaStorage d = cuda(dst);
        checkLength("cast", s.length(), d.length());
        if (s.dtype() == d.dtype()) {
            copy(s, d);
            return;
        }
        long n = s.length();
        if (s.dtype().isFloatingPoint() && d.dtype().isFloatingPoint()) {
            launch1d(s.dtype() == DType.FLOAT32 ? "cast_f2d" : "cast_d2f", n, s, d, n);
        } else {
            launch1d("cast_any", n, s, dtypeCode(s.dtype()), d, dtypeCode(d.dtype()), n);
        }
    }

    @Override
    public synchronized void fill(Storage dst, double value) {
        CudaStorage d = cuda(dst);
        long n = d.length();
        switch (d.dtype()) { // converted as Backend.cast converts: Java's casts
            case INT32 -> launch1d("fill_i32", n, d, n, (int) value);
            case INT64 -> launch1d("fill_i64", n, d, n, (long) value);
            case BOOL -> launch1d("fill_u8", n, d, n, value != 0 ? 1 : 0);
            default -> launch1d(fn("fill", d), n, d, n, scalar(d.dtype(), value));
        }
    }

    @Override
    public synchronized void stridedCopy(Storage src, long srcOffset, long[] srcStrides, Storage dst, long dstOffset,
                                         long[] dstStrides, int[] shape) {
        CudaStorage s = cuda(src);
        CudaStorage d = cuda(dst);
        sameDtype("stridedCopy", s, d);
        StridedLayout l = StridedLayout.ofCopy("stridedCopy", shape, srcOffset, srcStrides, s.length(), dstOffset,
                dstStrides, d.length());
        if (l.elements() == 0) {
            return;
        }
        if (l.rank() > KernelDims.MAX_RANK) {
            throw new IllegalArgumentException("stridedCopy: the cuda backend handles at most " + KernelDims.MAX_RANK
                    + " non-mergeable axes, got shape " + Arrays.toString(shape) + " with strides "
                    + Arrays.toString(srcStrides) + " and " + Arrays.toString(dstStrides));
        }
        if (l.rank() == 1 && l.aStrides()[0] == 1 && l.bStrides()[0] == 1) { // one contiguous run
            long bytes = l.elements() * s.dtype().byteSize();
            check(JCudaDriver.cuMemcpyDtoDAsync(d.pointer().withByteOffset(dstOffset * s.dtype().byteSize()),
                    s.pointer().withByteOffset(srcOffset * s.dtype().byteSize()), bytes, stream), "cuMemcpyDtoDAsync");
            return;
        }
        launch1d(fn("strided_copy", s), l.elements(), s, srcOffset, d, dstOffset, l.elements(), l.rank(),
                KernelDims.dims(l.shape()), KernelDims.dims(l.aStrides()), KernelDims.dims(l.bStrides()));
    }

    // ------------------------------------------------------------------ elementwise

    @Override
    public synchronized void unary(UnaryOp op, double p, Storage xs, Storage outs) {
        CudaStorage x = cuda(xs);
        CudaStorage out = cuda(outs);
        checkLength(op.name(), x.length(), out.length());
        sameDtype(op.name(), x, out);
        long n = x.length();
        launch1d(fn("unary", x), n, op.ordinal(), scalar(x.dtype(), p), x, out, n);
    }

    @Override
    public synchronized void unaryBackward(UnaryOp op, double p, Storage xs, Storage ys, Storage gs, Storage outs) {
        CudaStorage x = cuda(xs);
        CudaStorage y = cuda(ys);
        CudaStorage g = cuda(gs);
        CudaStorage out = cuda(outs);
        String what = op.name() + " backward";
        checkLength(what, x.length(), out.length());
        checkLength(what, y.length(), out.length());
        checkLength(what, g.length(), out.length());
        sameDtype(what, x, out);
        sameDtype(what, y, out);
        sameDtype(what, g, out);
        long n = out.length();
        launch1d(fn("unary_backward", x), n, op.ordinal(), scalar(x.dtype(), p), x, y, g, out, n);
    }

    @Override
    public synchronized void axpby(double alpha, Storage xs, double beta, Storage ys) {
        CudaStorage x = cuda(xs);
        CudaStorage y = cuda(ys);
        checkLength("axpby", x.length(), y.length());
        sameDtype("axpby", x, y);
        long n = y.length();
        if (n == 0) {
            return;
        }
        launch1d(fn("axpby", y), n, scalar(y.dtype(), alpha), x, scalar(y.dtype(), beta), y, n);
    }

    /** One launch of axpby_list per 32 pairs of a dtype; empty pairs are skipped. */
    @Override
    public synchronized void axpbyEach(double alpha, List<Storage> xs, double beta, List<Storage> ys) {
        forEachPairList("axpbyEach", "axpby_list", xs, ys,
                (dtype, list) -> new Object[] {scalar(dtype, alpha), scalar(dtype, beta), list});
    }

    /** One launch of copy_list per 32 pairs of a dtype; empty pairs are skipped. */
    @Override
    public synchronized void copyEach(List<Storage> srcs, List<Storage> dsts) {
        forEachPairList("copyEach", "copy_list", srcs, dsts, (dtype, list) -> new Object[] {list});
    }

    /** One launch of adam_list per 16 parameters of a dtype; empty ones are skipped. */
    @Override
    public synchronized void adamEach(AdamStep step, List<Storage> params, List<Storage> grads, List<Storage> m,
                                      List<Storage> v, double[] stepSizes, double[] invBiasCorrection2Sqrt, boolean[] first) {
        int count = params.size();
        AdamStep.checkCounts("adamEach", count, grads.size(), m.size(), v.size(), stepSizes.length,
                invBiasCorrection2Sqrt.length, first.length);
        Map<DType, List<Integer>> byDtype = new java.util.EnumMap<>(DType.class);
        List<CudaStorage> ps = new ArrayList<>(count);
        List<CudaStorage> gs = new ArrayList<>(count);
        List<CudaStorage> ms = new ArrayList<>(count);
        List<CudaStorage> vs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            CudaStorage p = cuda(params.get(i));
            ps.add(p);
            gs.add(cuda(grads.get(i)));
            ms.add(cuda(m.get(i)));
            vs.add(cuda(v.get(i)));
            for (CudaStorage o : new CudaStorage[] {gs.get(i), ms.get(i), vs.get(i)}) {
                checkLength("adamEach (parameter " + i + ")", p.length(), o.length());
                sameDtype("adamEach (parameter " + i + ")", p, o);
            }
            if (p.length() > 0) {
                byDtype.computeIfAbsent(p.dtype(), d -> new ArrayList<>()).add(i);
            }
        }
        int mode = step.weightDecay() == 0 ? 0 : step.decoupled() ? 2 : 1; // ADAM_COUPLED_DECAY / ADAM_DECOUPLED_DECAY
        for (Map.Entry<DType, List<Integer>> e : byDtype.entrySet()) {
            List<Integer> idx = e.getValue();
            String kernel = e.getKey() == DType.FLOAT32 ? "adam_list_f32" : "adam_list_f64";
            List<CudaStorage> p = idx.stream().map(ps::get).toList();
            List<CudaStorage> g = idx.stream().map(gs::get).toList();
            List<CudaStorage> mm = idx.stream().map(ms::get).toList();
            List<CudaStorage> vv = idx.stream().map(vs::get).toList();
            double[] sizes = idx.stream().mapToDouble(i -> stepSizes[i]).toArray();
            double[] inv = idx.stream().mapToDouble(i -> invBiasCorrection2Sqrt[i]).toArray();
            boolean[] firsts = new boolean[idx.size()];
            for (int j = 0; j < firsts.length; j++) {
                firsts[j] = first[idx.get(j)];
            }
            for (int from = 0; from < idx.size(); from += AdamList.MAX) {
                long[] list = AdamList.pack(p, g, mm, vv, sizes, inv, firsts, from, Math.min(idx.size(), from + AdamList.MAX));
                launch(kernel, AdamList.blocks(list), 1, 1, PairList.THREADS, step.beta1(), 1 - step.beta1(), step.beta2(),
                        1 - step.beta2(), step.eps(), step.weightDecay(), 1 - step.lr() * step.weightDecay(), mode, list);
            }
        }
    }

    /**
     * Checks the pairs (same length and dtype each), groups them by dtype, and launches
     * {@code kernel}_f32/_f64 once per {@link PairList#MAX} non-empty pairs with the arguments
     * {@code args} makes around the packed list.
     */
    private void forEachPairList(String op, String kernel, List<Storage> xs, List<Storage> ys,
                                 java.util.function.BiFunction<DType, long[], Object[]> args) {
        if (xs.size() != ys.size()) {
            throw new IllegalArgumentException(op + ": " + xs.size() + " xs for " + ys.size() + " ys");
        }
        Map<DType, List<CudaStorage>> xOf = new java.util.EnumMap<>(DType.class);
        Map<DType, List<CudaStorage>> yOf = new java.util.EnumMap<>(DType.class);
        for (int i = 0; i < xs.size(); i++) {
            CudaStorage x = cuda(xs.get(i));
            CudaStorage y = cuda(ys.get(i));
            checkLength(op + " (pair " + i + ")", x.length(), y.length());
            sameDtype(op + " (pair " + i + ")", x, y);
            if (y.length() > 0) {
                xOf.computeIfAbsent(y.dtype(), d -> new ArrayList<>()).add(x);
                yOf.computeIfAbsent(y.dtype(), d -> new ArrayList<>()).add(y);
            }
        }
        for (DType dtype : xOf.keySet()) {
            List<CudaStorage> x = xOf.get(dtype);
            List<CudaStorage> y = yOf.get(dtype);
            String name = kernel + (dtype == DType.FLOAT32 ? "_f32" : "_f64");
            for (int from = 0; from < y.size(); from += PairList.MAX) {
                long[] list = PairList.pack(x, y, from, Math.min(y.size(), from + PairList.MAX));
                launch(name, PairList.blocks(list), 1, 1, PairList.THREADS, args.apply(dtype, list));
            }
        }
    }

    @Override
    public synchronized void binary(BinaryOp op, Storage as, long[] aStrides, Storage bs, long[] bStrides,
                                    Storage outs, int[] outShape) {
        CudaStorage a = cuda(as);
        CudaStorage b = cuda(bs);
        CudaStorage out = cuda(outs);
        sameDtype(op.name(), a, b);
        sameDtype(op.name(), a, out);
        StridedLayout l = KernelDims.layout(op.name(), outShape, aStrides, a.length(), bStrides, b.length(), out.length());
        long n = l.elements();
        if (n == 0) {
            return;
        }
        if (l.isFlat()) {
            launch1d(fn("binary_contig", a), n, op.ordinal(), a, l.aStep(), b, l.bStep(), out, n);
        } else if (isRowBroadcast(l)) {
            // [rows, cols] with unit or zero column steps (a bias add): rows on grid y, no index division
            long rows = l.shape()[0];
            long cols = l.shape()[1];
            int gx = (int) Math.min(MAX_BLOCKS, Math.ceilDiv(cols, THREADS * 4L));
            int gy = (int) Math.min(MAX_GRID_Z, rows);
            launch(fn("binary_rows", a), gx, gy, 1, THREADS, op.ordinal(), a, l.aStrides()[0], (int) l.aStrides()[1],
                    b, l.bStrides()[0], (int) l.bStrides()[1], out, rows, cols);
        } else {
            launch1d(fn("binary_strided", a), n, op.ordinal(), a, b, out, n, l.rank(),
                    KernelDims.dims(l.shape()), KernelDims.dims(l.aStrides()), KernelDims.dims(l.bStrides()));
        }
    }

    /** Rank 2, rows long enough to keep a block busy, every operand's column step 0 or 1. */
    private static boolean isRowBroadcast(StridedLayout l) {
        return l.rank() == 2 && l.shape()[1] >= ROW_BROADCAST_MIN_COLS
                && (l.aStrides()[1] == 0 || l.aStrides()[1] == 1) && (l.bStrides()[1] == 0 || l.bStrides()[1] == 1);
    }

    // ------------------------------------------------------------------ matmul

    @Override
    public synchronized void matmul(Storage as, Storage bs, Storage cs, MatmulShape s) {
        gemm(as, bs, null, cs, s);
    }

    /**
     * The 64-tile kernels (gemm_f32, gemm_f64: the thin products of small batches, where launches
     * count) add the bias as they write C (split-K: as the slices are summed), for the
     * composition's bits in one launch fewer. The 128-tile kernels (large, compute-bound products)
     * take the SPI's composition, matmul then an add: a bias in their epilogue spilled registers.
     * So do cuBLAS (its beta * C epilogue would round otherwise) and k = 0.
     */
    @Override
    public synchronized void matmulBias(Storage as, Storage bs, Storage biases, Storage cs, MatmulShape s) {
        CudaStorage c = cuda(cs);
        CudaStorage bias = cuda(biases);
        sameDtype("matmulBias", c, bias);
        checkLength("matmulBias bias", s.n(), bias.length());
        if ((long) s.m() * s.n() == 0 || s.batch() == 0) {
            gemm(as, bs, null, cs, s); // nothing to write: gemm checks the operands and returns
            return;
        }
        if (cublas != null || s.k() == 0
                || !GemmPlan.choose(s, c.dtype() == DType.FLOAT32, tf32, multiprocessors).addsBias()) {
            Backend.super.matmulBias(as, bs, biases, cs, s);
            return;
        }
        gemm(as, bs, bias, cs, s);
    }

    private void gemm(Storage as, Storage bs, CudaStorage bias, Storage cs, MatmulShape s) {
        CudaStorage a = cuda(as);
        CudaStorage b = cuda(bs);
        CudaStorage c = cuda(cs);
        sameDtype("matmul", a, b);
        sameDtype("matmul", a, c);
        s.checkBounds("matmul", a.length(), b.length(), c.length()); // before cuBLAS or a kernel gets the sizes
        long mn = (long) s.m() * s.n();
        if (mn == 0 || s.batch() == 0) {
            return;
        }
        if (s.k() == 0) {
            fill(c, 0.0); // matmulBias sends k = 0 to the composition, which adds its bias after
            return;
        }
        bind();
        if (cublas != null) {
            if (profile != null && captureInputs == null) {
                profile.around("cublas_gemm", () -> cublas.gemm(s, a, b, c));
            } else {
                cublas.gemm(s, a, b, c);
            }
            return;
        }
        GemmPlan plan = GemmPlan.choose(s, c.dtype() == DType.FLOAT32, tf32, multiprocessors);
        int gx = Math.ceilDiv(s.n(), plan.tile());
        int gy = Math.ceilDiv(s.m(), plan.tile());
        long perLaunch = plan.batchesPerLaunch();
        Object biasArg = bias == null ? (Object) NULL_POINTER : bias; // the kernels test the pointer
        if (bias != null && !plan.addsBias()) {
            throw new IllegalStateException("cuda: " + plan.kernel() + " takes no bias (matmulBias composes it)");
        }
        CudaStorage workspace = plan.splits() == 1 ? null
                : (CudaStorage) allocate(c.dtype(), (long) plan.splits() * Math.min(s.batch(), perLaunch) * s.m() * s.n());
        try {
            for (long base = 0; base < s.batch(); base += perLaunch) {
                long count = Math.min(perLaunch, s.batch() - base);
                for (int rowTile = 0; rowTile < gy; rowTile += GemmPlan.ROW_TILES_PER_LAUNCH) {
                    int rows = Math.min(GemmPlan.ROW_TILES_PER_LAUNCH, gy - rowTile);
                    CudaStorage out = workspace == null ? c : workspace;
                    if (plan.addsBias()) {
                        launch(plan.kernel(), gx, rows, (int) (count * plan.splits()), THREADS, plan.kernelArgs(s, base, rowTile),
                                a, b, out, biasArg);
                    } else {
                        launch(plan.kernel(), gx, rows, (int) (count * plan.splits()), THREADS, plan.kernelArgs(s, base, rowTile),
                                a, b, out);
                    }
                }
                if (workspace != null) {
                    launch1d(fn("gemm_splitk_sum", c), count * mn, workspace, c, mn, plan.splits(), count * mn, base,
                            biasArg, s.n());
                }
            }
        } finally {
            if (workspace != null) {
                workspace.release(); // stream-ordered: the block is reused only by work queued after the sum
            }
        }
    }

    // ------------------------------------------------------------------ reductions and softmax

    @Override
    public synchronized void reduce(ReduceOp op, Storage xs, Storage outs, long outer, int axis, long inner) {
        CudaStorage x = cuda(xs);
        CudaStorage out = cuda(outs);
        sameDtype(op.name(), x, out);
        checkAxisView(op.name(), x.length(), outer, axis, inner);
        checkLength(op.name() + " output", outer * inner, out.length());
        long rows = outer * inner;
        if (rows == 0) {
            return;
        }
        if (inner == 1 && axis >= LONG_ROW) {
            // few long rows (a full sum): a whole block per row instead of one warp
            launch(fn("reduce_rows_block", x), (int) Math.min(MAX_BLOCKS, rows), 1, 1, 1024, op.ordinal(), x, out, rows, axis);
        } else if (inner == 1) {
            launchWarps(fn("reduce_rows", x), rows, op.ordinal(), x, out, rows, axis);
        } else if (axis >= WIDE_AXIS && rows < WIDE_MAX_COLUMNS) {
            // few columns, each long (a bias gradient over a large batch): 32 lanes per column
            int tiles = (int) Math.min(MAX_BLOCKS, outer * Math.ceilDiv(inner, 32));
            launch(fn("reduce_cols_wide", x), tiles, 1, 1, 1024, op.ordinal(), x, out, outer, axis, inner);
        } else {
            launch1d(fn("reduce_cols", x), rows, op.ordinal(), x, out, outer, axis, inner);
        }
    }

    @Override
    public synchronized void maxBackward(Storage xs, Storage maxs, Storage gs, Storage outs, long outer, int axis, long inner) {
        CudaStorage x = cuda(xs);
        CudaStorage max = cuda(maxs);
        CudaStorage g = cuda(gs);
        CudaStorage out = cuda(outs);
        sameDtype("max backward", x, max);
        sameDtype("max backward", x, g);
        sameDtype("max backward", x, out);
        checkAxisView("max backward", x.length(), outer, axis, inner);
        checkLength("max backward output", x.length(), out.length());
        checkLength("max backward max", outer * inner, max.length());
        checkLength("max backward grad", outer * inner, g.length());
        long rows = outer * inner;
        if (rows == 0 || axis == 0) {
            return;
        }
        if (inner == 1) {
            launchWarps(fn("max_backward_rows", x), rows, x, max, g, out, rows, axis);
        } else {
            launch1d(fn("max_backward_cols", x), rows, x, max, g, out, outer, axis, inner);
        }
    }

    @Override
    public synchronized void argmax(Storage xs, Storage outs, long outer, int axis, long inner) {
        CudaStorage x = cuda(xs);
        CudaStorage out = cuda(outs);
        if (!x.dtype().isFloatingPoint() || out.dtype() != DType.INT64) {
            throw new IllegalArgumentException("argmax: takes FLOAT32 or FLOAT64 into INT64, got " + x.dtype() + " into "
                    + out.dtype());
        }
        checkAxisView("argmax", x.length(), outer, axis, inner);
        checkLength("argmax output", outer * inner, out.length());
        if (axis == 0 && outer * inner > 0) {
            throw new IllegalArgumentException("argmax: an axis of size 0 has no largest element");
        }
        launch1d(fn("argmax", x), outer * inner, x, out, outer, axis, inner);
    }

    @Override
    public synchronized void gather(Storage srcs, int srcAxis, Storage indexes, long[] indexStrides, Storage outs,
                                    long outer, int count, long inner) {
        CudaStorage src = cuda(srcs);
        CudaStorage index = cuda(indexes);
        CudaStorage out = cuda(outs);
        requireDtype("gather index", index, DType.INT64);
        sameDtype("gather", src, out);
        IndexLayout l = IndexLayout.of("gather", outer, srcAxis, count, inner, src.length(), out.length(),
                index.length(), indexStrides);
        launchIndexKernel(fn("gather", src), l.outer() * l.count() * l.inner(), src, srcAxis, index, indexStrides[0],
                indexStrides[1], indexStrides[2], out, outer, count, inner);
    }

    @Override
    public synchronized void scatterAdd(Storage srcs, Storage indexes, long[] indexStrides, Storage outs, int outAxis,
                                        long outer, int count, long inner) {
        CudaStorage src = cuda(srcs);
        CudaStorage index = cuda(indexes);
        CudaStorage out = cuda(outs);
        requireDtype("scatterAdd index", index, DType.INT64);
        sameDtype("scatterAdd", src, out);
        if (out.dtype() == DType.BOOL) {
            throw new IllegalArgumentException("scatterAdd: BOOL has no sum; use a numeric dtype");
        }
        IndexLayout.of("scatterAdd", outer, outAxis, count, inner, out.length(), src.length(), index.length(),
                indexStrides);
        if (count == 0) {
            return;
        }
        launchIndexKernel(fn("scatter_add", src), outer * inner, src, index, indexStrides[0], indexStrides[1],
                indexStrides[2], out, outAxis, outer, count, inner);
    }

    /** A gather or scatter_add launch, with the error slot as its last argument and a look at it at the next sync. */
    private void launchIndexKernel(String name, long threads, Object... args) {
        if (threads == 0) {
            return;
        }
        Object[] withSlot = Arrays.copyOf(args, args.length + 1);
        withSlot[args.length] = indexErrors;
        launch1d(name, threads, withSlot);
        indexKernelsLaunched = true;
        indexErrorsUnread = true;
    }

    @Override
    public synchronized void compare(CompareOp op, Storage as, long[] aStrides, Storage bs, long[] bStrides,
                                     Storage outs, int[] outShape) {
        CudaStorage a = cuda(as);
        CudaStorage b = cuda(bs);
        CudaStorage out = cuda(outs);
        sameDtype(op.name(), a, b);
        requireDtype(op.name() + " output", out, DType.BOOL);
        StridedLayout l = KernelDims.layout(op.name(), outShape, aStrides, a.length(), bStrides, b.length(),
                out.length());
        launch1d(fn("compare", a), l.elements(), op.ordinal(), a, b, out, l.elements(), l.rank(),
                KernelDims.dims(l.shape()), KernelDims.dims(l.aStrides()), KernelDims.dims(l.bStrides()));
    }

    @Override
    public synchronized void where(Storage conditions, long[] conditionStrides, Storage as, long[] aStrides, Storage bs,
                                   long[] bStrides, Storage outs, int[] outShape) {
        CudaStorage c = cuda(conditions);
        CudaStorage a = cuda(as);
        CudaStorage b = cuda(bs);
        CudaStorage out = cuda(outs);
        requireDtype("where condition", c, DType.BOOL);
        sameDtype("where", a, b);
        sameDtype("where", a, out);
        // each operand checked against the output's shape as binary checks its two
        StridedLayout.of("where", outShape, conditionStrides, c.length(), aStrides, a.length(), out.length());
        StridedLayout.of("where", outShape, bStrides, b.length(), null, 0, out.length());
        if (outShape.length > KernelDims.MAX_RANK) {
            throw new IllegalArgumentException("where: the cuda backend handles at most " + KernelDims.MAX_RANK
                    + " axes, got shape " + Arrays.toString(outShape));
        }
        launch1d(fn("where", a), out.length(), c, a, b, out, out.length(), outShape.length, KernelDims.dims(outShape),
                KernelDims.dims(conditionStrides), KernelDims.dims(aStrides), KernelDims.dims(bStrides));
    }

    @Override
    public synchronized void crossEntropy(Storage logits, int[] labels, Storage loss, long rows, int classes) {
        CudaStorage x = cuda(logits);
        CudaStorage l = cuda(loss);
        sameDtype("crossEntropy", x, l);
        checkCrossEntropy(x, labels, rows, classes);
        checkLength("crossEntropy loss", rows, l.length());
        if (rows == 0) {
            return;
        }
        CudaStorage y = labelsOnDevice(labels, x, classes);
        try {
            if (classes < SMALL_ROW) {
                launch1d(fn("cross_entropy_small", x), rows, x, y, l, rows, classes);
            } else {
                launchWarps(fn("cross_entropy", x), rows, x, y, l, rows, classes);
            }
        } finally {
            y.release();
        }
    }

    @Override
    public synchronized void crossEntropyBackward(Storage logits, int[] labels, Storage grad, Storage outs, long rows, int classes) {
        CudaStorage x = cuda(logits);
        CudaStorage g = cuda(grad);
        CudaStorage out = cuda(outs);
        sameDtype("crossEntropy backward", x, g);
        sameDtype("crossEntropy backward", x, out);
        checkCrossEntropy(x, labels, rows, classes);
        checkLength("crossEntropy backward grad", rows, g.length());
        checkLength("crossEntropy backward output", x.length(), out.length());
        if (rows == 0) {
            return;
        }
        CudaStorage y = labelsOnDevice(labels, x, classes);
        try {
            if (classes < SMALL_ROW) {
                launch1d(fn("cross_entropy_small_backward", x), rows, x, y, g, out, rows, classes);
            } else {
                launchWarps(fn("cross_entropy_backward", x), rows, x, y, g, out, rows, classes);
            }
        } finally {
            y.release(); // back to the cache; the stream orders its reuse after this kernel
        }
    }

    /**
     * Dropout in one launch that draws the mask where it multiplies (the kernel repeats
     * CounterStream's integer arithmetic), so nothing crosses to the host. Refused while a CUDA
     * graph is being captured: the seed is a kernel argument, recorded once, and every replay
     * would keep the same elements.
     */
    @Override
    public synchronized void dropout(long seed, double p, Storage xs, Storage outs) {
        long keepFrom = CounterStream.keepFrom(p);
        CudaStorage x = cuda(xs);
        CudaStorage out = cuda(outs);
        sameDtype("dropout", x, out);
        checkLength("dropout", x.length(), out.length());
        if (captureInputs != null) {
            throw new IllegalStateException("cuda: dropout inside a CUDA graph capture: its seed would be recorded"
                    + " once and every replay would drop the same elements; capture a step without dropout");
        }
        long n = x.length();
        launch1d(fn("dropout", x), n, seed, keepFrom, scalar(x.dtype(), 1.0 / (1.0 - p)), x, out, n);
    }

    /**
     * The mean loss in one launch: one block computes every row's loss and sums them in the order
     * {@link #reduce} would, so the bits are those of the composition (see the kernel). One block
     * serves up to {@link #FUSED_MEAN_MAX_LOGITS} logits; a larger batch is spread over the whole
     * GPU by the composition's three launches instead.
     */
    @Override
    public synchronized void crossEntropyMean(Storage logits, int[] labels, Storage loss, long rows, int classes) {
        CudaStorage x = cuda(logits);
        CudaStorage l = cuda(loss);
        sameDtype("crossEntropyMean", x, l);
        checkCrossEntropy(x, labels, rows, classes);
        checkLength("crossEntropyMean loss", 1, l.length());
        if (rows == 0 || rows * classes > FUSED_MEAN_MAX_LOGITS) {
            Backend.super.crossEntropyMean(logits, labels, loss, rows, classes); // rejects rows == 0
            return;
        }
        CudaStorage y = labelsOnDevice(labels, x, classes);
        try {
            launch(fn("cross_entropy_mean", x), 1, 1, 1, FUSED_MEAN_THREADS, x, y, l, scalar(x.dtype(), 1.0 / rows),
                    rows, classes);
        } finally {
            y.release();
        }
    }

    /** Its gradient in one launch: the scaled scalar upstream read by every row's thread or warp. */
    @Override
    public synchronized void crossEntropyMeanBackward(Storage logits, int[] labels, Storage grad, Storage outs, long rows,
                                                      int classes) {
        CudaStorage x = cuda(logits);
        CudaStorage g = cuda(grad);
        CudaStorage out = cuda(outs);
        sameDtype("crossEntropyMean backward", x, g);
        sameDtype("crossEntropyMean backward", x, out);
        checkCrossEntropy(x, labels, rows, classes);
        checkLength("crossEntropyMean backward grad", 1, g.length());
        checkLength("crossEntropyMean backward output", x.length(), out.length());
        if (rows == 0) {
            Backend.super.crossEntropyMeanBackward(logits, labels, grad, outs, rows, classes); // rejects it
            return;
        }
        CudaStorage y = labelsOnDevice(labels, x, classes);
        Object scale = scalar(x.dtype(), 1.0 / rows);
        try {
            if (classes < SMALL_ROW) {
                launch1d(fn("cross_entropy_small_mean_backward", x), rows, x, y, g, scale, out, rows, classes);
            } else {
                launchWarps(fn("cross_entropy_mean_backward", x), rows, x, y, g, scale, out, rows, classes);
            }
        } finally {
            y.release();
        }
    }

    private static void checkCrossEntropy(CudaStorage x, int[] labels, long rows, int classes) {
        if (labels.length != rows || (long) rows * classes != x.length() || classes <= 0) {
            throw new IllegalArgumentException("crossEntropy: " + labels.length + " labels, " + rows + " rows of "
                    + classes + " classes, logits of " + x.length() + " elements do not fit together");
        }
        checkLabels(labels, classes);
    }

    /** A label outside [0, classes) would make the kernel read outside its row. */
    private static void checkLabels(int[] labels, int classes) {
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("crossEntropy: label " + labels[i] + " at row " + i
                        + " is out of range [0, " + classes + ")");
            }
        }
    }

    /** Labels as exact integers in the logits' dtype (a kernel reads them as T and converts). */
    private CudaStorage labelsOnDevice(int[] labels, CudaStorage like, int classes) {
        if (captureInputs != null) {
            // the labels array itself is the graph's input: refilled by the caller, checked and copied at each replay
            return recordInput(labels, like.dtype(), labels.length, classes);
        }
        if (like.dtype() == DType.FLOAT64) {
            double[] d = new double[labels.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = labels[i];
            }
            return (CudaStorage) upload(d);
        }
        float[] f = new float[labels.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = labels[i];
        }
        return (CudaStorage) upload(f);
    }

    @Override
    public synchronized void softmax(Storage xs, Storage ys, long outer, int axis, long inner, boolean log) {
        CudaStorage x = cuda(xs);
        CudaStorage y = cuda(ys);
        sameDtype("softmax", x, y);
        checkAxisView("softmax", x.length(), outer, axis, inner);
        checkLength("softmax output", x.length(), y.length());
        long rows = outer * inner;
        if (rows == 0 || axis == 0) {
            return;
        }
        if (inner == 1 && axis >= 64) {
            launchBlocks(fn("softmax_rows", x), rows, x, y, rows, axis, log ? 1 : 0);
        } else {
            launch1d(fn("softmax_cols", x), rows, x, y, outer, axis, inner, log ? 1 : 0);
        }
    }

    @Override
    public synchronized void softmaxBackward(Storage ys, Storage gs, Storage outs, long outer, int axis, long inner, boolean log) {
        CudaStorage y = cuda(ys);
        CudaStorage g = cuda(gs);
        CudaStorage out = cuda(outs);
        sameDtype("softmax backward", y, g);
        sameDtype("softmax backward", y, out);
        checkAxisView("softmax backward", y.length(), outer, axis, inner);
        checkLength("softmax backward grad", y.length(), g.length());
        checkLength("softmax backward output", y.length(), out.length());
        long rows = outer * inner;
        if (rows == 0 || axis == 0) {
            return;
        }
        if (inner == 1 && axis >= 64) {
            launchBlocks(fn("softmax_backward_rows", y), rows, y, g, out, rows, axis, log ? 1 : 0);
        } else {
            launch1d(fn("softmax_backward_cols", y), rows, y, g, out, outer, axis, inner, log ? 1 : 0);
        }
    }

    @Override
    public synchronized void synchronize() {
        refuseDuringCapture("synchronize()");
        bind();
        sync();
    }

    // ------------------------------------------------------------------ CUDA graphs

    /**
     * Records everything {@code step} asks of this backend into a {@link CudaGraph} without
     * running it (stream capture); {@link CudaGraph#replay()} runs it. Run the step once eagerly
     * first, so that buffers it creates lazily (optimizer momentum) exist outside the graph. The
     * backend's monitor is held for the whole capture, so other threads' work cannot slip in.
     * Only device work is recorded, so host-side decisions are taken once, at capture. While a
     * capture runs and while any graph is open, {@link #canDeferWrites()} is false, so core
     * writes zeroGrad's zeros at once instead of deferring them: replays then find every write
     * where eager execution put it, whether zeroGrad runs inside the step or between replays.
     */
    public synchronized CudaGraph capture(Runnable step) {
        if (step == null) {
            throw new IllegalArgumentException("capture: step is null");
        }
        refuseDuringCapture("capture()");
        bind();
        // zeros core deferred before the capture are written now, eagerly: recorded, every replay
        // would repeat them (the backend's monitor is held: no new ones can appear meanwhile)
        io.grad4j.DeferredWrites.flush(this);
        CachingAllocator.Pool<CUdeviceptr> pool = allocator.beginPool();
        List<CudaGraph.HostInput> inputs = new ArrayList<>();
        long launchesBefore = launches;
        // relaxed: the allocator may still need cuMemAlloc for a block the capture has not seen
        int rc = JCudaDriver.cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED);
        if (rc != CUresult.CUDA_SUCCESS) {
            allocator.closePool(pool);
            throw new IllegalStateException("cuda: cuStreamBeginCapture failed: " + CUresult.stringFor(rc));
        }
        captureInputs = inputs;
        // the buffers the step writes in place (parameters, momenta, gradients): every replay
        // writes them again, so it counts those writes again (saved tensors' versions)
        io.grad4j.InPlaceWrites.Recording writes = io.grad4j.InPlaceWrites.record();
        Throwable failure = null;
        try {
            step.run();
        } catch (RuntimeException | Error e) {
            failure = e;
        } finally {
            writes.stop();
            captureInputs = null;
            allocator.endPool(pool);
        }
        int recorded = (int) (launches - launchesBefore);
        launches = launchesBefore; // recorded, not run
        CUgraph graph = new CUgraph();
        rc = JCudaDriver.cuStreamEndCapture(stream, graph);
        if (failure != null || rc != CUresult.CUDA_SUCCESS) {
            if (rc == CUresult.CUDA_SUCCESS) {
                JCudaDriver.cuGraphDestroy(graph);
            }
            allocator.closePool(pool);
            if (failure instanceof RuntimeException e) {
                throw e;
            }
            if (failure instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException("cuda: stream capture failed (" + CUresult.stringFor(rc)
                    + "): the step used an operation a CUDA graph cannot record");
        }
        CUgraphExec exec = new CUgraphExec();
        rc = JCudaDriver.cuGraphInstantiate(exec, graph, 0);
        if (rc != CUresult.CUDA_SUCCESS) {
            JCudaDriver.cuGraphDestroy(graph);
            allocator.closePool(pool);
            throw new IllegalStateException("cuda: cuGraphInstantiate failed: " + CUresult.stringFor(rc));
        }
        LOG.log(System.Logger.Level.DEBUG, () -> "grad4j cuda: captured " + recorded + " kernel launches and " + inputs.size() + " host inputs");
        liveGraphs++;
        return new CudaGraph(this, graph, exec, pool, inputs, recorded, writes);
    }

    /**
     * False during a capture and while any {@link CudaGraph} is open: a replay repeats recorded
     * writes the host does not see, so core must not skip a write it would otherwise prove
     * redundant (zeroGrad's deferred fill).
     */
    @Override
    public synchronized boolean canDeferWrites() {
        return captureInputs == null && liveGraphs == 0;
    }

    /** Copies the graph's host inputs again, then launches it. */
    synchronized void replay(CudaGraph g) {
        if (g.isClosed()) {
            throw new IllegalStateException("cuda: replay() of a closed CudaGraph");
        }
        refuseDuringCapture("replay()");
        bind();
        for (CudaGraph.HostInput in : g.inputs()) {
            switch (in.array()) {
                case float[] f -> hostToDevice(f, in.target());
                case double[] d -> hostToDevice(d, in.target());
                case int[] labels -> {
                    CUdeviceptr t = in.target();
                    checkLabels(labels, in.labelLimit());
                    if (in.dtype() == DType.FLOAT64) {
                        hostToDevice(java.util.Arrays.stream(labels).asDoubleStream().toArray(), t);
                    } else {
                        float[] f = new float[labels.length];
                        for (int i = 0; i < f.length; i++) {
                            f[i] = labels[i];
                        }
                        hostToDevice(f, t);
                    }
                }
                default -> throw new IllegalStateException("unexpected graph input " + in.array().getClass());
            }
        }
        check(JCudaDriver.cuGraphLaunch(g.exec(), stream), "cuGraphLaunch");
        launches++;
        indexErrorsUnread |= indexKernelsLaunched; // the graph may hold some: look at the next sync
    }

    synchronized void destroy(CudaGraph g) {
        bind();
        // a replay still running is finished by the driver first; later work on the stream follows it
        try {
            check(JCudaDriver.cuGraphExecDestroy(g.exec()), "cuGraphExecDestroy");
            check(JCudaDriver.cuGraphDestroy(g.graph()), "cuGraphDestroy");
            allocator.closePool(g.pool());
        } finally {
            liveGraphs--; // a failed destroy must not keep core from deferring writes for good
        }
    }

    /** Whether a capture is in progress (on this backend's stream). */
    public synchronized boolean isCapturing() {
        return captureInputs != null;
    }

    private void refuseDuringCapture(String what) {
        if (captureInputs != null) {
            throw new IllegalStateException("cuda: " + what + " inside a CUDA graph capture: a capture records device work"
                    + " without running it, so the step cannot read results or wait for the device; read them after"
                    + " CudaGraph.replay()");
        }
    }

    // ------------------------------------------------------------------ launching

    /** One thread per element, grid-stride beyond {@link #MAX_BLOCKS} blocks; nothing for n == 0. */
    private void launch1d(String name, long n, Object... args) {
        if (n == 0) {
            return;
        }
        launch(name, (int) Math.min(MAX_BLOCKS, Math.ceilDiv(n, THREADS)), 1, 1, THREADS, args);
    }

    /** One warp per row (8 rows per 256-thread block). */
    private void launchWarps(String name, long rows, Object... args) {
        launch(name, (int) Math.min(MAX_BLOCKS, Math.ceilDiv(rows, THREADS / 32)), 1, 1, THREADS, args);
    }

    /** One block per row. */
    private void launchBlocks(String name, long rows, Object... args) {
        launch(name, (int) Math.min(MAX_BLOCKS, rows), 1, 1, THREADS, args);
    }

    private void launch(String name, int gx, int gy, int gz, int block, Object... args) {
        KernelSignatures.check(name, args);
        bind();
        int rc;
        if (profile != null && captureInputs == null) {
            int[] result = new int[1];
            profile.around(name, () -> result[0] = launcher.launch(function(name), gx, gy, gz, block, stream, args));
            rc = result[0];
        } else {
            rc = launcher.launch(function(name), gx, gy, gz, block, stream, args);
        }
        launches++;
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("cuda: launching " + name + " <<<(" + gx + "," + gy + "," + gz + "), " + block
                    + ">>> failed: " + CUresult.stringFor(rc));
        }
    }

    private CUfunction function(String name) {
        return functions.computeIfAbsent(name, n -> {
            CUfunction f = new CUfunction();
            check(JCudaDriver.cuModuleGetFunction(f, module, n), "cuModuleGetFunction(" + n + ")");
            return f;
        });
    }

    private static String fn(String base, CudaStorage s) {
        return base + switch (s.dtype()) {
            case FLOAT32 -> "_f32";
            case FLOAT64 -> "_f64";
            case INT32 -> "_i32";
            case INT64 -> "_i64";
            case BOOL -> "_u8";
        };
    }

    private static Object scalar(DType dtype, double value) {
        return dtype == DType.FLOAT32 ? (Object) (float) value : (Object) value;
    }

    /** Makes the primary context current on the calling thread (once per thread). */
    private void bind() {
        if (!contextBound.get()) {
            check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            contextBound.set(true);
        }
    }

    private void sync() {
        synchronizations++;
        int rc = JCudaDriver.cuStreamSynchronize(stream);
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("cuda: a kernel failed (" + CUresult.stringFor(rc)
                    + "); the context is unusable now. Rerun under compute-sanitizer to find it.");
        }
        if (indexErrorsUnread) {
            throwIndexError();
        }
    }

    private static final long INDEX_ERROR_BYTES = 3 * Long.BYTES;

    /**
     * After a synchronisation: the index error an index kernel reported since the last look, as
     * the IndexOutOfBoundsException the cpu backend throws at the call (the slot is cleared, so
     * the next call starts clean). Device-side, as PyTorch's CUDA index checks are: the kernel
     * skips the bad index and the host learns of it at the next point it waits.
     */
    private void throwIndexError() {
        indexErrorsUnread = false;
        long[] slot = new long[3];
        check(JCudaDriver.cuMemcpyDtoH(Pointer.to(slot), indexErrors, INDEX_ERROR_BYTES), "cuMemcpyDtoH(index errors)");
        if (slot[0] != 0) {
            clearIndexErrors();
            String op = slot[0] == 1 ? "gather" : "scatterAdd";
            throw new IndexOutOfBoundsException(IndexLayout.outOfRange(op, slot[1], slot[2])
                    + " (found on the device; reported at the next synchronisation)");
        }
    }

    private void clearIndexErrors() {
        check(JCudaDriver.cuMemcpyHtoD(indexErrors, Pointer.to(new long[3]), INDEX_ERROR_BYTES),
                "cuMemcpyHtoD(index errors)");
    }

    private CudaStorage cuda(Storage s) {
        if (s instanceof CudaStorage c && c.owner() == this) {
            return c;
        }
        throw new IllegalArgumentException("the cuda backend got storage of another backend or device: " + s);
    }

    private static void sameDtype(String op, CudaStorage a, CudaStorage b) {
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": dtypes differ (" + a.dtype() + " and " + b.dtype() + ")");
        }
    }

    static void checkLength(String op, long expected, long actual) {
        if (expected != actual) {
            throw new IllegalArgumentException(op + ": lengths differ (" + expected + " vs " + actual + ")");
        }
    }

    static void checkAxisView(String op, long length, long outer, int axis, long inner) {
        if (outer < 0 || axis < 0 || inner < 0 || !viewMatches(outer, axis, inner, length)) {
            throw new IllegalArgumentException(op + ": view [outer=" + outer + ", axis=" + axis + ", inner=" + inner
                    + "] does not match the input's " + length + " elements");
        }
    }

    /** outer * axis * inner == length, with products that overflow a long never matching (a wrapped one could). */
    private static boolean viewMatches(long outer, int axis, long inner, long length) {
        try {
            return Math.multiplyExact(Math.multiplyExact(outer, (long) axis), inner) == length;
        } catch (ArithmeticException overflow) {
            return false;
        }
    }

    static void check(int rc, String what) {
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("cuda: " + what + " failed: " + CUresult.stringFor(rc));
        }
    }

    /** cuMemAlloc/cuMemFree for the allocator; out-of-memory comes back as null so it can retry. */
    private final class DriverMemory implements DeviceMemory<CUdeviceptr> {
        @Override
        public CUdeviceptr allocate(long bytes) {
            bind();
            CUdeviceptr p = new CUdeviceptr();
            int rc = JCudaDriver.cuMemAlloc(p, bytes);
            if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
                return null;
            }
            check(rc, "cuMemAlloc(" + bytes + ")");
            return p;
        }

        @Override
        public void free(CUdeviceptr block) {
            bind();
            check(JCudaDriver.cuMemFree(block), "cuMemFree");
        }

        @Override
        public long freeBytes() {
            return memInfo()[0];
        }

        @Override
        public long totalBytes() {
            return memInfo()[1];
        }

        private long[] memInfo() {
            bind();
            long[] free = new long[1];
            long[] total = new long[1];
            check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
            return new long[]{free[0], total[0]};
        }

        @Override
        public void synchronize() {
            bind();
            sync();
        }
    }
}
