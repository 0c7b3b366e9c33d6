package io.grad4j.cpu;

import io.grad4j.backend.MatmulShape;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The BLAS library the cpu backend calls: ND4J's OpenBLAS, or one named by grad4j.cpu.openblas. */
class OpenBlasGemmTest {
    @AfterEach
    void clearProperty() {
        System.clearProperty(OpenBlasGemm.LIBRARY_PROPERTY);
    }

    private static float[] product(Gemm gemm) {
        // [2,3] @ [3,2]
        float[] a = {1, 2, 3, 4, 5, 6};
        float[] b = {7, 8, 9, 10, 11, 12};
        float[] c = new float[4];
        gemm.sgemm(new MatmulShape(1, 2, 2, 3, false, false, 0, 0), a, 0, b, 0, c, 0);
        return c;
    }

    @Test
    void aNamedLibraryIsCalledInsteadOfNd4jsOwn() {
        String nd4jLibrary = org.bytedeco.javacpp.Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
        System.setProperty(OpenBlasGemm.LIBRARY_PROPERTY, nd4jLibrary); // the same file, named: the path is taken as given
        OpenBlasGemm named = OpenBlasGemm.load();
        assertTrue(named.name().contains(OpenBlasGemm.LIBRARY_PROPERTY) && named.name().contains(nd4jLibrary), named.name());
        assertArrayEquals(new float[] {58, 64, 139, 154}, product(named));
    }

    @Test
    void aLibraryThatDoesNotLoadIsNamedInTheError() {
        System.setProperty(OpenBlasGemm.LIBRARY_PROPERTY, "/nonexistent/libcblas.so");
        IllegalStateException e = assertThrows(IllegalStateException.class, OpenBlasGemm::load);
        assertTrue(e.getMessage().contains("/nonexistent/libcblas.so") && e.getMessage().contains(OpenBlasGemm.LIBRARY_PROPERTY),
                e.getMessage());
        // asked for openblas explicitly, the provider passes the failure on; auto falls back to Java loops
        assertThrows(IllegalStateException.class, () -> CpuBackendProvider.chooseGemm("openblas"));
        assertTrue(CpuBackendProvider.chooseGemm("auto") instanceof JavaGemm);
    }
}
