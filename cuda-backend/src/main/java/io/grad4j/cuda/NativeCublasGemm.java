package io.grad4j.cuda;

import io.grad4j.DType;
import io.grad4j.backend.MatmulShape;
import jcuda.driver.CUstream;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Matrix products through the installed cuBLAS called directly with Java's foreign-function API.
 * JCublas 12.6, the newest on Maven Central, binds libcublas.so.12 only, so a machine with just
 * CUDA 13 (libcublas.so.13, like our H100/H200 test machines) would otherwise get no cuBLAS at
 * all. cuBLAS's C API is the same in both versions for what is used here: a handle on the
 * backend's stream (cuBLAS runs in the context current on the thread, the backend's retained
 * primary context), the math mode, and the strided-batched S/D GEMM. Row-major to column-major
 * as in {@link CublasGemm}: C^T = op(B)^T op(A)^T, operands swapped, nothing copied.
 */
final class NativeCublasGemm implements GemmEngine {
    /** Tried in order; dlopen finds them through the loader cache or LD_LIBRARY_PATH. */
    static final List<String> LIBRARIES = List.of("libcublas.so.13", "libcublas.so.12");

    private static final int OP_N = 0;
    private static final int OP_T = 1;
    private static final int DEFAULT_MATH = 0;
    private static final int TF32_TENSOR_OP_MATH = 3;

    private final String library;
    private final MemorySegment handle;
    private final MethodHandle sgemm;
    private final MethodHandle dgemm;
    private final MemorySegment oneF;
    private final MemorySegment zeroF;
    private final MemorySegment oneD;
    private final MemorySegment zeroD;
    private final boolean tf32;

    private NativeCublasGemm(String library, MemorySegment handle, MethodHandle sgemm, MethodHandle dgemm, Arena arena,
                             boolean tf32) {
        this.library = library;
        this.handle = handle;
        this.sgemm = sgemm;
        this.dgemm = dgemm;
        this.oneF = arena.allocateFrom(JAVA_FLOAT, 1f);
        this.zeroF = arena.allocateFrom(JAVA_FLOAT, 0f);
        this.oneD = arena.allocateFrom(JAVA_DOUBLE, 1.0);
        this.zeroD = arena.allocateFrom(JAVA_DOUBLE, 0.0);
        this.tf32 = tf32;
    }

    /**
     * Finds cuBLAS, creates a handle on {@code stream} with TF32 tensor-op math when {@code tf32};
     * throws IllegalStateException naming each library tried and why, or the failing call.
     */
    static NativeCublasGemm load(CUstream stream, boolean tf32) {
        Arena arena = Arena.global(); // the handle and constants live as long as the backend: the JVM
        SymbolLookup lookup = null;
        String found = null;
        List<String> failures = new ArrayList<>();
        for (String name : LIBRARIES) {
            try {
                lookup = SymbolLookup.libraryLookup(name, arena);
                found = name;
                break;
            } catch (IllegalArgumentException e) {
                failures.add(name + ": " + e.getMessage());
            }
        }
        if (lookup == null) {
            throw new IllegalStateException("no cuBLAS library could be loaded (" + String.join("; ", failures) + ")");
        }
        Linker linker = Linker.nativeLinker();
        FunctionDescriptor stridedBatched = FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, // handle, transa, transb, m, n, k
                ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG,                       // alpha, A, lda, strideA
                ADDRESS, JAVA_INT, JAVA_LONG,                                // B, ldb, strideB
                ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT);            // beta, C, ldc, strideC, batchCount
        MethodHandle create = linker.downcallHandle(lookup.findOrThrow("cublasCreate_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle setStream = linker.downcallHandle(lookup.findOrThrow("cublasSetStream_v2"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        MethodHandle setMathMode = linker.downcallHandle(lookup.findOrThrow("cublasSetMathMode"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        MethodHandle sgemm = linker.downcallHandle(lookup.findOrThrow("cublasSgemmStridedBatched"), stridedBatched);
        MethodHandle dgemm = linker.downcallHandle(lookup.findOrThrow("cublasDgemmStridedBatched"), stridedBatched);
        MemorySegment handleOut = arena.allocate(ADDRESS);
        MemorySegment handle;
        try {
            check((int) create.invokeExact(handleOut), "cublasCreate_v2", found);
            handle = handleOut.get(ADDRESS, 0);
            check((int) setStream.invokeExact(handle, MemorySegment.ofAddress(NativeAddress.of(stream))), "cublasSetStream_v2", found);
            check((int) setMathMode.invokeExact(handle, tf32 ? TF32_TENSOR_OP_MATH : DEFAULT_MATH), "cublasSetMathMode", found);
        } catch (IllegalStateException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("calling " + found + " failed: " + t, t);
        }
        return new NativeCublasGemm(found, handle, sgemm, dgemm, arena, tf32);
    }

    @Override
    public void gemm(MatmulShape s, CudaStorage a, CudaStorage b, CudaStorage c) {
        s.checkBounds("cublasGemmStridedBatched", a.length(), b.length(), c.length()); // cuBLAS trusts every size
        int opA = s.transposeA() ? OP_T : OP_N;
        int opB = s.transposeB() ? OP_T : OP_N;
        long mn = (long) s.m() * s.n();
        MemorySegment pa = MemorySegment.ofAddress(a.address());
        MemorySegment pb = MemorySegment.ofAddress(b.address());
        MemorySegment pc = MemorySegment.ofAddress(c.address());
        int rc;
        try {
            if (c.dtype() == DType.FLOAT32) {
                rc = (int) sgemm.invokeExact(handle, opB, opA, s.n(), s.m(), s.k(), oneF, pb, s.ldb(), s.batchStrideB(),
                        pa, s.lda(), s.batchStrideA(), zeroF, pc, s.n(), mn, s.batch());
            } else {
                rc = (int) dgemm.invokeExact(handle, opB, opA, s.n(), s.m(), s.k(), oneD, pb, s.ldb(), s.batchStrideB(),
                        pa, s.lda(), s.batchStrideA(), zeroD, pc, s.n(), mn, s.batch());
            }
        } catch (Throwable t) {
            throw new IllegalStateException("cuBLAS (" + library + ") gemm call failed for " + s + ": " + t, t);
        }
        check(rc, "cublas" + (c.dtype() == DType.FLOAT32 ? "S" : "D") + "gemmStridedBatched for " + s, library);
    }

    @Override
    public String describe() {
        return "cuBLAS (" + library + " via the foreign-function API" + (tf32 ? ", TF32 tensor-op math" : "") + ")";
    }

    private static void check(int status, String call, String library) {
        if (status != 0) {
            throw new IllegalStateException(call + " (" + library + ") returned " + statusName(status));
        }
    }

    /** cublasStatus_t names (cublas_api.h). */
    static String statusName(int status) {
        return switch (status) {
            case 0 -> "CUBLAS_STATUS_SUCCESS";
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "cuBLAS status " + status;
        };
    }
}
