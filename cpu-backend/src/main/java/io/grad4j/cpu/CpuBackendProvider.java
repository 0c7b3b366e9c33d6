package io.grad4j.cpu;

import io.grad4j.backend.Backend;
import io.grad4j.backend.BackendProvider;

import java.util.Locale;

/**
 * Provider "cpu", always available: matrix products use bytedeco's OpenBLAS when it loads and plain
 * Java otherwise (an unsupported platform keeps working, slower). {@code grad4j.cpu.gemm} =
 * {@code auto|openblas|java} overrides the choice; naming openblas when it cannot load fails.
 * {@code grad4j.cpu.openblas=/path/to/lib.so} calls another CBLAS library instead.
 */
public final class CpuBackendProvider implements BackendProvider {
    public static final String GEMM_PROPERTY = "grad4j.cpu.gemm";
    private static final System.Logger LOG = System.getLogger(CpuBackendProvider.class.getName());

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public int priority() {
        return 10;
    }

    @Override
    public boolean isAvailable() {
        return true;
    }

    @Override
    public Backend create() {
        return new CpuBackend(chooseGemm(System.getProperty(GEMM_PROPERTY, "auto").trim().toLowerCase(Locale.ROOT)));
    }

    static Gemm chooseGemm(String requested) {
        switch (requested) {
            case "java":
                return new JavaGemm();
            case "openblas":
                return OpenBlasGemm.load();
            case "auto":
                try {
                    return OpenBlasGemm.load();
                } catch (RuntimeException | LinkageError e) {
                    LOG.log(System.Logger.Level.WARNING, "grad4j cpu: OpenBLAS could not be loaded (" + e + "); using the plain-Java matmul");
                    return new JavaGemm();
                }
            default:
                throw new IllegalArgumentException(GEMM_PROPERTY + " must be auto, openblas or java, got '" + requested + "'");
        }
    }
}
