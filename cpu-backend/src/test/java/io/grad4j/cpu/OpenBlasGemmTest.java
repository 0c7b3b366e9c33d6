package io.grad4j.cpu;

import io.grad4j.backend.MatmulShape;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The BLAS library the cpu backend calls: bytedeco's OpenBLAS, or one named by grad4j.cpu.openblas. */
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

    /**
     * Issue 23: cblas trusts m, n, k; sizes larger than the arrays (the product of a wrapped
     * element count) would read and write outside them and crash the JVM. The call is refused
     * first, naming the array, for every operand and at an offset.
     */
    @Test
    void sizesLargerThanTheArraysAreRefusedBeforeCblasRuns() {
        OpenBlasGemm gemm = OpenBlasGemm.load();
        float[] empty = new float[0];
        MatmulShape huge = new MatmulShape(1, 1 << 20, 1 << 20, 1 << 20, false, false, 0, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> gemm.sgemm(huge, empty, 0, empty, 0, empty, 0));
        assertTrue(e.getMessage().contains("cblas_sgemm") && e.getMessage().contains("holds 0 elements"), e.getMessage());
        MatmulShape twoByTwo = new MatmulShape(1, 2, 2, 3, false, false, 0, 0);
        float[] six = new float[6];
        float[] four = new float[4];
        assertThrows(IllegalArgumentException.class, () -> gemm.sgemm(twoByTwo, new float[5], 0, six, 0, four, 0));
        assertThrows(IllegalArgumentException.class, () -> gemm.sgemm(twoByTwo, six, 0, new float[5], 0, four, 0));
        assertThrows(IllegalArgumentException.class, () -> gemm.sgemm(twoByTwo, six, 0, six, 0, four, 1));
        IllegalArgumentException d = assertThrows(IllegalArgumentException.class,
                () -> gemm.dgemm(twoByTwo, new double[6], 1, new double[6], 0, new double[4], 0));
        assertTrue(d.getMessage().contains("cblas_dgemm") && d.getMessage().contains("A holds 6"), d.getMessage());
    }

    @Test
    void aNamedLibraryIsCalledInsteadOfNd4jsOwn() {
        String nd4jLibrary = org.bytedeco.javacpp.Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
        System.setProperty(OpenBlasGemm.LIBRARY_PROPERTY, nd4jLibrary); // the same file, named: the path is taken as given
        OpenBlasGemm named = OpenBlasGemm.load();
        assertTrue(named.name().contains(OpenBlasGemm.LIBRARY_PROPERTY) && named.name().contains(nd4jLibrary), named.name());
        assertArrayEquals(new float[] {58, 64, 139, 154}, product(named));
    }

    /**
     * A product cut into blocks of rows or columns of C, one cblas call each on 4 threads, is the
     * product (within float rounding of one call over the whole of it: OpenBLAS blocks k by the
     * shape it is given) and repeats bit for bit: every layout, both cuts (C taller than wide and
     * wider than tall), sides that are not multiples of the blocks, at offsets inside larger
     * arrays, nothing written outside C.
     */
    @Test
    void productsCutBetweenThreadsAreTheProductAndRepeatBitForBit() {
        OpenBlasGemm whole = OpenBlasGemm.load(new ParallelLoops(1));
        OpenBlasGemm cut = OpenBlasGemm.load(new ParallelLoops(4));
        java.util.Random random = new java.util.Random(11);
        int[][] sizes = {{64, 256, 784}, {1000, 70, 300}, {333, 333, 129}, {17, 2000, 100}};
        for (int[] mnk : sizes) {
            for (int layout = 0; layout < 4; layout++) {
                int m = mnk[0], n = mnk[1], k = mnk[2];
                MatmulShape s = new MatmulShape(1, m, n, k, (layout & 1) != 0, (layout & 2) != 0, 0, 0);
                float[] a = new float[5 + m * k];
                float[] b = new float[3 + k * n];
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) random.nextGaussian();
                }
                for (int i = 0; i < b.length; i++) {
                    b[i] = (float) random.nextGaussian();
                }
                float[] expected = new float[7 + m * n + 2];
                java.util.Arrays.fill(expected, 42f);
                float[] actual = expected.clone();
                float[] again = expected.clone();
                whole.sgemm(s, a, 5, b, 3, expected, 7);
                cut.sgemm(s, a, 5, b, 3, actual, 7);
                cut.sgemm(s, a, 5, b, 3, again, 7);
                assertArrayEquals(actual, again, s + ": the same cut twice");
                // float rounding of a k-term sum: a few ulps of sqrt(k) sized terms
                assertArrayEquals(expected, actual, 1e-4f * k, s.toString());
                for (int i : new int[] {0, 6, 7 + m * n, 8 + m * n}) {
                    assertTrue(actual[i] == 42f, s + ": element " + i + " outside C was written");
                }
                double[] ad = new double[a.length], bd = new double[b.length];
                for (int i = 0; i < a.length; i++) {
                    ad[i] = a[i];
                }
                for (int i = 0; i < b.length; i++) {
                    bd[i] = b[i];
                }
                double[] expectedD = new double[7 + m * n + 2];
                double[] actualD = expectedD.clone();
                double[] againD = expectedD.clone();
                whole.dgemm(s, ad, 5, bd, 3, expectedD, 7);
                cut.dgemm(s, ad, 5, bd, 3, actualD, 7);
                cut.dgemm(s, ad, 5, bd, 3, againD, 7);
                assertArrayEquals(actualD, againD, s + " (double): the same cut twice");
                assertArrayEquals(expectedD, actualD, 1e-12 * k, s + " (double)");
            }
        }
        assertTrue(cut.name().contains("one thread per block of C"), cut.name());
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
