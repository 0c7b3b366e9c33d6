package io.grad4j.cpu;

import io.grad4j.backend.ElementCount;
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
 * cblas_sgemm / cblas_dgemm of bytedeco's OpenBLAS build (org.bytedeco:openblas, unpacked and
 * loaded by JavaCPP's Loader), called through the FFM API on the Java arrays themselves. ND4J's
 * Nd4j.gemm reached the same routine through its op layer at ~18 us and ~3.7 KB of garbage per
 * call; this downcall costs ~0.3 us and allocates nothing, and transposes are flags, never copies.
 *
 * <p>Threads: OpenBLAS is set to one thread, and a product large enough is cut into one block of
 * rows (or columns) of C per thread of {@link ParallelLoops}, each a cblas call of its own. Its own
 * threads wake from sleep for each call, which at the default training's sizes (64 x 784 x 256)
 * cost more than they saved: measured 2026-11-27, that product took 170 us with its 2 threads,
 * against 120 us in PyTorch. The blocks depend only on the shape and the number of threads, never
 * on which thread runs which, so results repeat bit for bit; as with OpenBLAS's own threads, they
 * can differ in the last bits between thread counts (OpenBLAS picks its blocking of k by the
 * shape it is given). A library named by {@link #LIBRARY_PROPERTY} keeps its own threading and is
 * called whole. The one-thread setting is OpenBLAS's, for the whole process: other users of the
 * same library in the JVM (ND4J, through grad4j-nd4j, loads the same file) get it too, and a named
 * library that is the same file shares it.
 */
final class OpenBlasGemm implements Gemm {
    private static final int ROW_MAJOR = 101;
    private static final int NO_TRANS = 111;
    private static final int TRANS = 112;

    /** Blocks of C start at multiples of this many rows or columns (OpenBLAS's kernels' unrolling). */
    private static final int BLOCK_ALIGN = 16;

    private final MethodHandle sgemm;
    private final MethodHandle dgemm;
    private final String library;
    private final boolean named;
    /** The threads that share a product, or null when the library threads its calls itself. */
    private final ParallelLoops loops;

    private OpenBlasGemm(MethodHandle sgemm, MethodHandle dgemm, String library, boolean named, ParallelLoops loops) {
        this.sgemm = sgemm;
        this.dgemm = dgemm;
        this.library = library;
        this.named = named;
        this.loops = loops;
    }

    /**
     * The system property naming another shared library with the CBLAS interface (cblas_sgemm,
     * cblas_dgemm: another OpenBLAS build, BLIS, MKL's libmkl_rt) to call instead of bytedeco's
     * OpenBLAS, by its path. Measured here, 2026-11-27: OpenBLAS 0.3.31 (bytedeco's build) ran
     * the MLP step as fast as the default 0.3.19, Debian's 0.3.21 OpenMP build slower (its threads
     * slept under the OMP_WAIT_POLICY=passive that ND4J, then on the classpath, needed).
     */
    static final String LIBRARY_PROPERTY = "grad4j.cpu.openblas";

    /** Loads OpenBLAS through JavaCPP (or the library {@link #LIBRARY_PROPERTY} names); throws with the reason when it cannot. */
    static OpenBlasGemm load() {
        return load(ParallelLoops.shared());
    }

    /** As {@link #load()}, cutting products between the threads of loops (bytedeco's OpenBLAS only). */
    static OpenBlasGemm load(ParallelLoops threads) {
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
        ParallelLoops loops = null;
        if (named.isEmpty()) {
            MethodHandle setThreads = linker.downcallHandle(lookup.find("openblas_set_num_threads").orElseThrow(
                    () -> new IllegalStateException("openblas_set_num_threads not found in " + lib)),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
            try {
                setThreads.invokeExact(1);
            } catch (Throwable t) {
                throw new IllegalStateException("openblas_set_num_threads(1) failed in " + lib, t);
            }
            loops = threads;
        }
        return new OpenBlasGemm(s, d, lib, !named.isEmpty(), loops);
    }

    private static FunctionDescriptor descriptor(ValueLayout scalar) {
        ValueLayout i = ValueLayout.JAVA_INT;
        ValueLayout p = ValueLayout.ADDRESS;
        return FunctionDescriptor.ofVoid(i, i, i, i, i, i, scalar, p, i, p, i, scalar, p, i);
    }

    @Override
    public String name() {
        return named ? "cblas (" + library + ", named by " + LIBRARY_PROPERTY + ", via FFM)"
                : "openblas (bytedeco's, via FFM: " + Path.of(library).getFileName() + ", one thread per block of C)";
    }

    /** One cblas call's share of C: rows [from, to) or columns [from, to). */
    @FunctionalInterface
    private interface Block {
        void run(int m, int n, long aOffset, long bOffset, long cOffset);
    }

    /**
     * Calls block once per share of C: whole when the product is small or the library threads
     * itself, else cut along the longer of C's sides into one block per thread. Cutting rows gives
     * each thread all of B to pack and cutting columns all of A, so the cut goes where the
     * operand every thread repeats is the smaller. A read transposed (a weight gradient g^T x,
     * k the batch) is cut by rows whenever it has enough of them: cut by columns, every thread
     * packed all of the transposed A, and a Linear layer's [512, 784] gradient at batch 64 took
     * 430-470 us on two threads against 290-300 us cut by rows (the same work on one thread: 508).
     */
    private void forEachBlock(MatmulShape s, long aOffset, long bOffset, long cOffset, Block block) {
        int m = s.m(), n = s.n(), k = s.k();
        long flops = (long) m * n * k;
        if (loops == null || loops.threads() == 1 || flops < 2 * MIN_FLOPS_PER_THREAD) {
            block.run(m, n, aOffset, bOffset, cOffset);
            return;
        }
        if (m >= n || s.transposeA() && m >= 4L * BLOCK_ALIGN * loops.threads()) {
            long rowsPerThread = Math.ceilDiv(MIN_FLOPS_PER_THREAD, (long) n * k);
            loops.forRange(m, rowsPerThread, BLOCK_ALIGN, 1, (from, to) -> block.run((int) (to - from), n,
                    aOffset + (s.transposeA() ? from : from * s.lda()), bOffset, cOffset + from * n));
        } else {
            long colsPerThread = Math.ceilDiv(MIN_FLOPS_PER_THREAD, (long) m * k);
            loops.forRange(n, colsPerThread, BLOCK_ALIGN, 1, (from, to) -> block.run(m, (int) (to - from), aOffset,
                    bOffset + (s.transposeB() ? from * s.ldb() : from), cOffset + from));
        }
    }

    @Override
    public void sgemm(MatmulShape s, float[] a, long aOffset, float[] b, long bOffset, float[] c, long cOffset) {
        checkInside("cblas_sgemm", s, a.length, aOffset, b.length, bOffset, c.length, cOffset);
        MemorySegment as = MemorySegment.ofArray(a), bs = MemorySegment.ofArray(b), cs = MemorySegment.ofArray(c);
        forEachBlock(s, aOffset, bOffset, cOffset, (m, n, ao, bo, co) -> {
            try {
                sgemm.invokeExact(ROW_MAJOR, s.transposeA() ? TRANS : NO_TRANS, s.transposeB() ? TRANS : NO_TRANS,
                        m, n, s.k(), 1.0f, slice(as, ao * 4), Math.max(1, s.lda()), slice(bs, bo * 4), Math.max(1, s.ldb()),
                        0.0f, slice(cs, co * 4), Math.max(1, s.n()));
            } catch (Throwable t) {
                throw new IllegalStateException("cblas_sgemm failed for " + s, t);
            }
        });
    }

    @Override
    public void dgemm(MatmulShape s, double[] a, long aOffset, double[] b, long bOffset, double[] c, long cOffset) {
        checkInside("cblas_dgemm", s, a.length, aOffset, b.length, bOffset, c.length, cOffset);
        MemorySegment as = MemorySegment.ofArray(a), bs = MemorySegment.ofArray(b), cs = MemorySegment.ofArray(c);
        forEachBlock(s, aOffset, bOffset, cOffset, (m, n, ao, bo, co) -> {
            try {
                dgemm.invokeExact(ROW_MAJOR, s.transposeA() ? TRANS : NO_TRANS, s.transposeB() ? TRANS : NO_TRANS,
                        m, n, s.k(), 1.0, slice(as, ao * 8), Math.max(1, s.lda()), slice(bs, bo * 8), Math.max(1, s.ldb()),
                        0.0, slice(cs, co * 8), Math.max(1, s.n()));
            } catch (Throwable t) {
                throw new IllegalStateException("cblas_dgemm failed for " + s, t);
            }
        });
    }

    /**
     * The arrays hold the one product the call describes: cblas trusts m, n, k and the leading
     * dimensions, and a wrong size there reads or writes outside the Java heap's arrays (a crash
     * or a corrupted heap, not an exception). Sizes of zero touch nothing.
     */
    private static void checkInside(String call, MatmulShape s, int aLength, long aOffset, int bLength, long bOffset,
                                    int cLength, long cOffset) {
        boolean empty = (long) s.m() * s.n() == 0;
        ElementCount.requireInside(call, "C", cLength, cOffset, empty ? 0 : (long) s.m() * s.n());
        ElementCount.requireInside(call, "A", aLength, aOffset, empty ? 0 : s.elementsOfA());
        ElementCount.requireInside(call, "B", bLength, bOffset, empty ? 0 : s.elementsOfB());
    }

    private static MemorySegment slice(MemorySegment whole, long byteOffset) {
        return byteOffset == 0 ? whole : whole.asSlice(byteOffset);
    }
}
