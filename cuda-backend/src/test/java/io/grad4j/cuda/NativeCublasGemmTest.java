package io.grad4j.cuda;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the direct cuBLAS path can show without a GPU: JCuda's addresses, and a clear refusal. */
class NativeCublasGemmTest {
    @Test
    void addressesIncludeAPointersByteOffset() {
        CUdeviceptr p = new CUdeviceptr(); // null device pointer: address 0
        assertEquals(0, NativeAddress.of(p));
        assertEquals(24, NativeAddress.of(p.withByteOffset(24)));
        assertEquals(0, NativeAddress.of(new CUstream()));
    }

    @Test
    void loadingWithoutAUsableCublasSaysWhatWasTried() {
        // here: no libcublas at all (or, with one installed, no GPU for cublasCreate)
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> NativeCublasGemm.load(new CUstream(), false));
        assertTrue(e.getMessage().contains("libcublas.so."), e.getMessage());
    }

    @Test
    void statusCodesHaveTheirHeaderNames() {
        assertEquals("CUBLAS_STATUS_SUCCESS", NativeCublasGemm.statusName(0));
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", NativeCublasGemm.statusName(7));
        assertEquals("CUBLAS_STATUS_NOT_SUPPORTED", NativeCublasGemm.statusName(15));
        assertEquals("cuBLAS status 99", NativeCublasGemm.statusName(99));
    }
}
