package io.grad4j.cuda;

import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

import java.nio.charset.StandardCharsets;

/**
 * Finds out, once per JVM, whether the CUDA backend can run here: JCuda's native library loads
 * (it needs the driver's libcuda.so.1), cuInit succeeds, the driver is new enough for the
 * committed kernels, and the chosen device exists with compute capability 8.0 or newer.
 *
 * <p>Never throws and never crashes the JVM: a missing driver shows up as an
 * {@link UnsatisfiedLinkError} from JCuda's static initialiser the first time and as
 * {@link NoClassDefFoundError} on every later touch, so the first outcome is cached with a
 * one-line reason and JCuda is not touched again after a failure.
 */
public final class CudaProbe {
    /** System property choosing the device ordinal (default 0). */
    public static final String DEVICE_PROPERTY = "grad4j.cuda.device";
    /** The fatbin is built by nvcc 13.0; its machine code needs a CUDA 13 driver (r580+). */
    static final int MIN_DRIVER_VERSION = 13000;
    /** The fatbin holds sm_80 and sm_90 machine code and compute_90 PTX. */
    static final int MIN_COMPUTE_CAPABILITY = 80;

    /** What the probe found. {@code reason} is "available" or one line saying why not. */
    public record Result(boolean available, String reason, int device, int deviceCount, int driverVersion,
                         int computeCapability, String deviceName, long totalMemory) {
        static Result unavailable(String reason) {
            return new Result(false, reason, -1, 0, 0, 0, "", 0);
        }

        /** "9.0" for compute capability 90. */
        public String computeCapabilityString() {
            return computeCapability / 10 + "." + computeCapability % 10;
        }

        /** "13.0" for driver version 13000. */
        public String driverVersionString() {
            return versionString(driverVersion);
        }
    }

    private static volatile Result cached;
    /** Why JCuda's native library failed to load, kept because later touches only say NoClassDefFoundError. */
    private static volatile String linkFailure;

    private CudaProbe() {
    }

    /** The cached outcome, probing on first call. */
    public static Result result() {
        Result r = cached;
        if (r == null) {
            synchronized (CudaProbe.class) {
                r = cached;
                if (r == null) {
                    r = probe(System.getProperty(DEVICE_PROPERTY, "0"));
                    cached = r;
                }
            }
        }
        return r;
    }

    static Result probe(String deviceProperty) {
        int device;
        try {
            device = Integer.parseInt(deviceProperty.trim());
        } catch (NumberFormatException e) {
            return Result.unavailable(DEVICE_PROPERTY + " must be a device ordinal (0, 1, ...), got '" + deviceProperty + "'");
        }
        if (device < 0) {
            return Result.unavailable(DEVICE_PROPERTY + " must be >= 0, got " + device);
        }
        if (linkFailure != null) {
            return Result.unavailable(linkFailure);
        }
        try {
            JCudaDriver.setExceptionsEnabled(false); // first touch: loads libJCudaDriver, which needs libcuda.so.1
            int rc = JCudaDriver.cuInit(0);
            if (rc == CUresult.CUDA_ERROR_NO_DEVICE) {
                return Result.unavailable("no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)");
            }
            if (rc == CUresult.CUDA_ERROR_SYSTEM_DRIVER_MISMATCH || rc == CUresult.CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE) {
                return Result.unavailable("driver too old: cuInit returned " + CUresult.stringFor(rc));
            }
            if (rc != CUresult.CUDA_SUCCESS) {
                return Result.unavailable("cuInit failed: " + CUresult.stringFor(rc));
            }
            int[] v = new int[1];
            check(JCudaDriver.cuDriverGetVersion(v), "cuDriverGetVersion");
            int driver = v[0];
            if (driver < MIN_DRIVER_VERSION) {
                return Result.unavailable("driver too old: it supports CUDA " + versionString(driver)
                        + ", the grad4j kernels need CUDA " + versionString(MIN_DRIVER_VERSION) + " (driver r580 or newer)");
            }
            check(JCudaDriver.cuDeviceGetCount(v), "cuDeviceGetCount");
            int count = v[0];
            if (count == 0) {
                return Result.unavailable("no CUDA device (the driver sees none)");
            }
            if (device >= count) {
                return Result.unavailable(DEVICE_PROPERTY + "=" + device + " but the driver sees only " + count + " CUDA device(s)");
            }
            CUdevice dev = new CUdevice();
            check(JCudaDriver.cuDeviceGet(dev, device), "cuDeviceGet");
            check(JCudaDriver.cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "cuDeviceGetAttribute");
            int major = v[0];
            check(JCudaDriver.cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "cuDeviceGetAttribute");
            int cc = major * 10 + v[0];
            byte[] name = new byte[256];
            check(JCudaDriver.cuDeviceGetName(name, name.length, dev), "cuDeviceGetName");
            long[] total = new long[1];
            check(JCudaDriver.cuDeviceTotalMem(total, dev), "cuDeviceTotalMem");
            String deviceName = cString(name);
            if (cc < MIN_COMPUTE_CAPABILITY) {
                return Result.unavailable("device " + device + " (" + deviceName + ") has compute capability "
                        + major + "." + (cc % 10) + "; the grad4j kernels need 8.0 or newer");
            }
            return new Result(true, "available", device, count, driver, cc, deviceName, total[0]);
        } catch (LinkageError e) {
            synchronized (CudaProbe.class) {
                if (linkFailure == null) {
                    linkFailure = linkReason(e);
                }
            }
            return Result.unavailable(linkFailure);
        } catch (RuntimeException e) {
            return Result.unavailable("CUDA probe failed: " + oneLine(e));
        }
    }

    /** One line for a failure to load JCuda's native library. */
    static String linkReason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage());
            if (m.contains("libcuda.so")) {
                return "libcuda.so.1 not found (no NVIDIA driver installed): JCuda's driver library could not be loaded";
            }
        }
        if (e instanceof NoClassDefFoundError) {
            return "JCuda could not be initialised earlier in this JVM: " + oneLine(e);
        }
        return "JCuda's native library could not be loaded: " + oneLine(e);
    }

    static String oneLine(Throwable e) {
        String m = e.getClass().getSimpleName() + ": " + e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    static String versionString(int v) {
        return v / 1000 + "." + (v % 1000) / 10;
    }

    private static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    private static void check(int rc, String what) {
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException(what + " failed: " + CUresult.stringFor(rc));
        }
    }
}
