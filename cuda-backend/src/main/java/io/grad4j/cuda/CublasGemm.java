package io.grad4j.cuda;

import io.grad4j.DType;
import io.grad4j.backend.MatmulShape;
import jcuda.Pointer;
import jcuda.driver.CUstream;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasMath;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasStatus;
import jcuda.runtime.cudaStream_t;

/**
 * Matrix products through cuBLAS (libcublas.so.12 via JCublas2), on the backend's stream.
 * cuBLAS is column-major; a row-major C = op(A) op(B) is the column-major product
 * C^T = op(B)^T op(A)^T, so the operands are passed swapped and nothing is copied.
 */
final class CublasGemm implements GemmEngine {
    private final cublasHandle handle;
    private final boolean tf32;

    private CublasGemm(cublasHandle handle, boolean tf32) {
        this.handle = handle;
        this.tf32 = tf32;
    }

    /** Loads JCublas2 and creates a handle bound to {@code stream}; throws LinkageError or IllegalStateException. */
    static CublasGemm load(CUstream stream, boolean tf32) {
        JCublas2.setExceptionsEnabled(false);
        cublasHandle h = new cublasHandle();
        int rc = JCublas2.cublasCreate(h);
        if (rc != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw new IllegalStateException("cublasCreate failed: " + cublasStatus.stringFor(rc));
        }
        rc = JCublas2.cublasSetStream(h, new cudaStream_t(stream));
        if (rc != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw new IllegalStateException("cublasSetStream failed: " + cublasStatus.stringFor(rc));
        }
        rc = JCublas2.cublasSetMathMode(h, tf32 ? cublasMath.CUBLAS_TF32_TENSOR_OP_MATH : cublasMath.CUBLAS_DEFAULT_MATH);
        if (rc != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw new IllegalStateException("cublasSetMathMode failed: " + cublasStatus.stringFor(rc));
        }
        return new CublasGemm(h, tf32);
    }

    @Override
    public String describe() {
        return "cuBLAS (libcublas.so.12 via JCublas2" + (tf32 ? ", TF32 tensor-op math" : "") + ")";
    }

    @Override
    public void gemm(MatmulShape s, CudaStorage a, CudaStorage b, CudaStorage c) {
        s.checkBounds("cublasGemmStridedBatched", a.length(), b.length(), c.length()); // cuBLAS trusts every size
        int opA = s.transposeA() ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        int opB = s.transposeB() ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        long mn = (long) s.m() * s.n();
        int rc;
        if (c.dtype() == DType.FLOAT32) {
            rc = JCublas2.cublasSgemmStridedBatched(handle, opB, opA, s.n(), s.m(), s.k(),
                    Pointer.to(new float[]{1f}), b.pointer(), s.ldb(), s.batchStrideB(),
                    a.pointer(), s.lda(), s.batchStrideA(),
                    Pointer.to(new float[]{0f}), c.pointer(), s.n(), mn, s.batch());
        } else {
            rc = JCublas2.cublasDgemmStridedBatched(handle, opB, opA, s.n(), s.m(), s.k(),
                    Pointer.to(new double[]{1.0}), b.pointer(), s.ldb(), s.batchStrideB(),
                    a.pointer(), s.lda(), s.batchStrideA(),
                    Pointer.to(new double[]{0.0}), c.pointer(), s.n(), mn, s.batch());
        }
        if (rc != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw new IllegalStateException("cuBLAS gemm failed: " + cublasStatus.stringFor(rc) + " for " + s);
        }
    }
}
