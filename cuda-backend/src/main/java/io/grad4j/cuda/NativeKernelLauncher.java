package io.grad4j.cuda;

import jcuda.NativePointerObject;
import jcuda.driver.CUfunction;
import jcuda.driver.CUstream;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.IdentityHashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Kernel launches through the driver's {@code cuLaunchKernel} called with Java's foreign-function
 * API, with nothing allocated per launch: the arguments are written into one native buffer (each
 * at an 8-byte aligned offset: every argument of our kernels, structs included, is aligned to at
 * most 8) and {@code kernelParams} is a native array of pointers into it. The driver copies the
 * values when the launch is queued (and into the graph node during a stream capture), so the
 * buffer is free again when the call returns. The driver is the one JCuda loaded: dlopen of
 * {@code libcuda.so.1} returns the same library, so contexts made current through JCuda apply.
 */
final class NativeKernelLauncher implements KernelLauncher {
    static final String DRIVER = "libcuda.so.1";
    /** Our kernels take at most 9 arguments and 64-byte structs; room for well beyond that. */
    static final int MAX_ARGS = 32;
    static final int VALUE_BYTES = 2048;

    /** CUresult cuLaunchKernel(CUfunction, grid x/y/z, block x/y/z, sharedMemBytes, CUstream, void** params, void** extra). */
    static final FunctionDescriptor CU_LAUNCH_KERNEL = FunctionDescriptor.of(JAVA_INT,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);

    private final String library;
    private final MethodHandle cuLaunchKernel;
    private final MemorySegment values;
    private final MemorySegment params;
    private final long valuesAddress;
    /** Raw handles of JCuda's function and stream objects, read once each (by reflection). */
    private final Map<NativePointerObject, MemorySegment> handles = new IdentityHashMap<>();

    NativeKernelLauncher(SymbolLookup lookup, String library) {
        this.library = library;
        this.cuLaunchKernel = Linker.nativeLinker().downcallHandle(lookup.findOrThrow("cuLaunchKernel"), CU_LAUNCH_KERNEL);
        Arena arena = Arena.ofAuto(); // freed with the launcher
        this.values = arena.allocate(VALUE_BYTES, 16);
        this.params = arena.allocate(ADDRESS.byteSize() * MAX_ARGS, ADDRESS.byteAlignment());
        this.valuesAddress = values.address();
        if (ADDRESS.byteSize() != Long.BYTES) {
            throw new IllegalStateException("the native kernel launcher needs 64-bit pointers");
        }
    }

    /** Binds {@code cuLaunchKernel} in the installed driver; throws if the library or symbol is missing. */
    static NativeKernelLauncher forDriver() {
        return new NativeKernelLauncher(SymbolLookup.libraryLookup(DRIVER, Arena.global()), DRIVER);
    }

    @Override
    public synchronized int launch(CUfunction function, int gridX, int gridY, int gridZ, int block, CUstream stream,
                                   Object[] args) {
        pack(args);
        try {
            return (int) cuLaunchKernel.invokeExact(handle(function), gridX, gridY, gridZ, block, 1, 1, 0, handle(stream),
                    params, MemorySegment.NULL);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuLaunchKernel (" + library + ") call failed: " + t, t);
        }
    }

    /**
     * Writes the arguments into the value buffer and points {@code kernelParams[i]} at each;
     * returns the bytes used. Package-private: tests read the buffers back.
     */
    int pack(Object[] args) {
        if (args.length > MAX_ARGS) {
            throw new IllegalArgumentException("a kernel launch with " + args.length + " arguments; at most " + MAX_ARGS);
        }
        long at = 0;
        for (int i = 0; i < args.length; i++) {
            long size = switch (args[i]) {
                case CudaStorage s -> {
                    values.set(JAVA_LONG, at, s.address());
                    yield 8;
                }
                case jcuda.driver.CUdeviceptr p -> {
                    values.set(JAVA_LONG, at, NativeAddress.of(p));
                    yield 8;
                }
                case Integer v -> {
                    values.set(JAVA_LONG, at, 0L); // the slot's other 4 bytes hold nothing from an earlier launch
                    values.set(JAVA_INT, at, v);
                    yield 4;
                }
                case Long v -> {
                    values.set(JAVA_LONG, at, v);
                    yield 8;
                }
                case Float v -> {
                    values.set(JAVA_LONG, at, 0L);
                    values.set(JAVA_FLOAT, at, v);
                    yield 4;
                }
                case Double v -> {
                    values.set(JAVA_DOUBLE, at, v);
                    yield 8;
                }
                case long[] struct -> {
                    if (at + 8L * struct.length > VALUE_BYTES) {
                        throw new IllegalArgumentException("kernel arguments exceed " + VALUE_BYTES + " bytes");
                    }
                    MemorySegment.copy(struct, 0, values, JAVA_LONG, at, struct.length);
                    yield 8L * struct.length;
                }
                case null, default -> throw new IllegalArgumentException("unsupported kernel argument " + args[i]);
            };
            params.setAtIndex(JAVA_LONG, i, valuesAddress + at); // no slice object per argument
            at += (size + 7) & ~7L;
            if (at > VALUE_BYTES) {
                throw new IllegalArgumentException("kernel arguments exceed " + VALUE_BYTES + " bytes");
            }
        }
        return (int) at;
    }

    MemorySegment values() {
        return values;
    }

    MemorySegment params() {
        return params;
    }

    private MemorySegment handle(NativePointerObject o) {
        MemorySegment h = handles.get(o);
        if (h == null) {
            h = MemorySegment.ofAddress(NativeAddress.of(o));
            handles.put(o, h);
        }
        return h;
    }

    @Override
    public String describe() {
        return "cuLaunchKernel in " + library + " through the foreign-function API";
    }
}
