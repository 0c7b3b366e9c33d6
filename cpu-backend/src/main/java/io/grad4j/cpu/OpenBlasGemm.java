package io.grad4j.cpu;

import io.grad4j.backend.MatmulShape;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * cblas_sgemm / cblas_dgemm of the OpenBLAS that ND4J ships (JavaCPP's org.bytedeco.openblas),
 * called through the FFM API on the Java arrays themselves. ND4J's own Nd4j.gemm reaches the same
 * routine through its op layer at ~18 us and ~3.7 KB of garbage per call; this downcall costs
 * ~0.3 us and allocates nothing, and transposes are flags, never copies.
 */
final class OpenBlasGemm implements Gemm {
    private static final int ROW_MAJOR = 101;
    private static final int NO_TRANS = 111;
    private static final int TRANS = 112;

    private final MethodHandle sgemm;
    private final MethodHandle dgemm;
    private final String library;
    private final boolean named;

    private OpenBlasGemm(MethodHandle sgemm, MethodHandle dgemm, String library, boolean named) {
        this.sgemm = sgemm;
        this.dgemm = dgemm;
        this.library = library;
        this.named = named;
    }

    /**
     * The system property naming another shared library with the CBLAS interface (cblas_sgemm,
     * cblas_dgemm: another OpenBLAS build, BLIS, MKL's libmkl_rt) to call instead of ND4J's
     * OpenBLAS, by its path. Measured here, 2026-11-27: OpenBLAS 0.3.31 (bytedeco's build) ran
     * the MLP step as fast as ND4J's 0.3.19, Debian's 0.3.21 OpenMP build slower (its threads
     * sleep under the OMP_WAIT_POLICY=passive ND4J needs).
     */
    static final String LIBRARY_PROPERTY = "grad4j.cpu.openblas";

    /** Loads OpenBLAS through JavaCPP (or the library {@link #LIBRARY_PROPERTY} names); throws with the reason when it cannot. */
    static OpenBlasGemm load() {
        String named = System.getProperty(LIBRARY_PROPERTY, "").trim();
        String lib = named.isEmpty() ? org.bytedeco.javacpp.Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class)
                : named;
        if (lib == null) {
            throw new IllegalStateException("JavaCPP found no OpenBLAS library for this platform");
        }
        SymbolLookup lookup;
        try {
            lookup = SymbolLookup.libraryLookup(Path.of(lib), Arena.global());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("cannot load the BLAS library " + lib
                    + (named.isEmpty() ? "" : " (named by -D" + LIBRARY_PROPERTY + ")") + ": " + e.getMessage(), e);
        }
        Linker linker = Linker.nativeLinker();
        MethodHandle s = linker.downcallHandle(
                lookup.find("cblas_sgemm").orElseThrow(() -> new IllegalStateException("cblas_sgemm not found in " + lib)),
                descriptor(ValueLayout.JAVA_FLOAT), Linker.Option.critical(true));
        MethodHandle d = linker.downcallHandle(
                lookup.find("cblas_dgemm").orElseThrow(() -> new IllegalStateException("cblas_dgemm not found in " + lib)),
                descriptor(ValueLayout.JAVA_DOUBLE), Linker.Option.critical(true));
        return new OpenBlasGemm(s, d, lib, !named.isEmpty());
    }

    private static FunctionDescriptor descriptor(ValueLayout scalar) {
        ValueLayout i = ValueLayout.JAVA_INT;
        ValueLayout p = ValueLayout.ADDRESS;
        return FunctionDescriptor.ofVoid(i, i, i, i, i, i, scalar, p, i, p, i, scalar, p, i);
    }

    @Override
    public String name() {
        return named ? "cblas (" + library + ", named by " + LIBRARY_PROPERTY + ", via FFM)"
                : "openblas (ND4J's, via FFM: " + Path.of(library).getFileName() + ")";
    }

    @Override
    public void sgemm(MatmulShape s, float[] a, long aOffset, float[] b, long bOffset, float[] c, long cOffset) {
        try {
            sgemm.invokeExact(ROW_MAJOR, s.transposeA() ? TRANS : NO_TRANS, s.transposeB() ? TRANS : NO_TRANS,
                    s.m(), s.n(), s.k(), 1.0f,
                    slice(MemorySegment.ofArray(a), aOffset * 4), Math.max(1, s.lda()),
                    slice(MemorySegment.ofArray(b), bOffset * 4), Math.max(1, s.ldb()), 0.0f,
                    slice(MemorySegment.ofArray(c), cOffset * 4), Math.max(1, s.n()));
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_sgemm failed for " + s, t);
        }
    }

    @Override
    public void dgemm(MatmulShape s, double[] a, long aOffset, double[] b, long bOffset, double[] c, long cOffset) {
        try {
            dgemm.invokeExact(ROW_MAJOR, s.transposeA() ? TRANS : NO_TRANS, s.transposeB() ? TRANS : NO_TRANS,
                    s.m(), s.n(), s.k(), 1.0,
                    slice(MemorySegment.ofArray(a), aOffset * 8), Math.max(1, s.lda()),
                    slice(MemorySegment.ofArray(b), bOffset * 8), Math.max(1, s.ldb()), 0.0,
                    slice(MemorySegment.ofArray(c), cOffset * 8), Math.max(1, s.n()));
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_dgemm failed for " + s, t);
        }
    }

    private static MemorySegment slice(MemorySegment whole, long byteOffset) {
        return byteOffset == 0 ? whole : whole.asSlice(byteOffset);
    }
}
