package io.grad4j.cuda;

import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.util.Locale;

/**
 * Puts one kernel launch on the backend's stream. Kernel arguments arrive as Java values: a
 * {@link CudaStorage} (its device address), {@code Integer}, {@code Long}, {@code Float},
 * {@code Double}, or a {@code long[]} standing for a struct passed by value (Dims, GemmArgs).
 *
 * <p>Small batches are launch-bound, so the host cost of a launch matters: JCuda's
 * {@code cuLaunchKernel} wraps every argument in a {@link Pointer} to a fresh one-element array and
 * its native side reads them back through JNI; {@link NativeKernelLauncher} writes the arguments
 * into one preallocated native buffer and calls the driver through Java's foreign-function API.
 * Chosen with {@value #PROPERTY}.
 */
interface KernelLauncher {
    String PROPERTY = "grad4j.cuda.launcher";

    /** Returns the driver's CUresult. */
    int launch(CUfunction function, int gridX, int gridY, int gridZ, int block, CUstream stream, Object[] args);

    /** For {@code description()} and {@code grad4j info}. */
    String describe();

    /** The launcher {@value #PROPERTY} asks for: {@code auto} (the default: native when it binds, else JCuda), {@code native}, {@code jcuda}. */
    static KernelLauncher choose(java.util.List<String> notes) {
        String wanted = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        switch (wanted) {
            case "jcuda":
                return new JCudaLauncher();
            case "native", "auto":
                try {
                    return NativeKernelLauncher.forDriver();
                } catch (LinkageError | RuntimeException e) {
                    if (wanted.equals("native")) {
                        throw new IllegalStateException(PROPERTY + "=native but cuLaunchKernel could not be bound: "
                                + CudaProbe.oneLine(e) + " (use " + PROPERTY + "=jcuda)", e);
                    }
                    notes.add("native kernel launcher unavailable (" + CudaProbe.oneLine(e) + "), using JCuda's");
                    return new JCudaLauncher();
                }
            default:
                throw new IllegalArgumentException(PROPERTY + " must be auto, native or jcuda, got '"
                        + System.getProperty(PROPERTY) + "'");
        }
    }

    /** JCuda's launch: a Pointer per argument, read back through JNI on every call. */
    final class JCudaLauncher implements KernelLauncher {
        @Override
        public int launch(CUfunction function, int gridX, int gridY, int gridZ, int block, CUstream stream, Object[] args) {
            Pointer[] params = new Pointer[args.length];
            for (int i = 0; i < args.length; i++) {
                params[i] = switch (args[i]) {
                    case CudaStorage s -> Pointer.to(s.pointer());
                    case jcuda.driver.CUdeviceptr p -> Pointer.to(p);
                    case Integer v -> Pointer.to(new int[] {v});
                    case Long v -> Pointer.to(new long[] {v});
                    case Float v -> Pointer.to(new float[] {v});
                    case Double v -> Pointer.to(new double[] {v});
                    case long[] struct -> Pointer.to(struct);
                    default -> throw new IllegalArgumentException("unsupported kernel argument " + args[i]);
                };
            }
            return JCudaDriver.cuLaunchKernel(function, gridX, gridY, gridZ, block, 1, 1, 0, stream, Pointer.to(params), null);
        }

        @Override
        public String describe() {
            return "JCuda cuLaunchKernel";
        }
    }
}
