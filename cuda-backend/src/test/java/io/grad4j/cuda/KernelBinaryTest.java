package io.grad4j.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The committed fatbin is what the GPU runs: it must have been built from the committed source
 * (recorded hash) and be intact (its own hash), and it must export every kernel the backend launches.
 */
class KernelBinaryTest {
    private static final Path CUDA_DIR = Path.of("src/main/cuda");
    private static final Path RES_DIR = Path.of("src/main/resources/io/grad4j/cuda");

    @Test
    void sourceMatchesTheHashTheFatbinWasBuiltFrom() throws Exception {
        String recorded = firstWord(Files.readString(CUDA_DIR.resolve("grad4j_kernels.cu.sha256")));
        assertEquals(recorded, sha256(Files.readAllBytes(CUDA_DIR.resolve("grad4j_kernels.cu"))),
                "grad4j_kernels.cu changed since the fatbin was built: run cuda-backend/build-kernels.sh (needs nvcc) and commit");
    }

    @Test
    void fatbinOnTheClasspathMatchesItsRecordedHash() throws Exception {
        byte[] fatbin = classpathFatbin();
        String recorded = firstWord(Files.readString(RES_DIR.resolve("grad4j_kernels.fatbin.sha256")));
        assertEquals(recorded, sha256(fatbin));
        assertTrue(fatbin.length > 1000);
    }

    /** The kernel binary the backend loads. */
    static byte[] classpathFatbin() throws IOException {
        try (InputStream in = CudaBackend.class.getResourceAsStream(CudaBackend.FATBIN)) {
            assertNotNull(in, CudaBackend.FATBIN + " is on the classpath");
            return in.readAllBytes();
        }
    }

    @Test
    void theBackendsKernelListIsTheSourcesExportList() throws IOException {
        String src = Files.readString(CUDA_DIR.resolve("grad4j_kernels.cu"));
        Matcher m = Pattern
                .compile("extern \"C\" __global__ void (?:__launch_bounds__\\([^)]*\\) )?(\\w+)\\(").matcher(src);
        Set<String> exported = new TreeSet<>();
        while (m.find()) {
            exported.add(m.group(1));
        }
        assertEquals(exported, new TreeSet<>(CudaBackend.KERNELS),
                "CudaBackend.KERNELS (looked up at start) must list exactly the kernels grad4j_kernels.cu exports");
        String report = Files.readString(CUDA_DIR.resolve("ptxas-report.txt"));
        for (String k : CudaBackend.KERNELS) {
            assertTrue(report.contains("'" + k + "'"), "ptxas report covers " + k);
        }
    }

    @Test
    void operationCodesMatchTheCoreEnums() throws IOException {
        String src = Files.readString(CUDA_DIR.resolve("grad4j_kernels.cu"));
        StringBuilder unary = new StringBuilder();
        for (io.grad4j.backend.UnaryOp op : io.grad4j.backend.UnaryOp.values()) {
            unary.append(unary.isEmpty() ? "" : ", ").append("U_").append(op.name()).append(op.ordinal() == 0 ? " = 0" : "");
        }
        assertTrue(src.contains("enum { " + unary + " };"), "UnaryOp order in the .cu: " + unary);
        StringBuilder binary = new StringBuilder();
        for (io.grad4j.backend.BinaryOp op : io.grad4j.backend.BinaryOp.values()) {
            binary.append(binary.isEmpty() ? "" : ", ").append("B_").append(op.name()).append(op.ordinal() == 0 ? " = 0" : "");
        }
        assertTrue(src.contains("enum { " + binary + " };"), "BinaryOp order in the .cu: " + binary);
        assertTrue(src.contains("enum { R_SUM = 0, R_MAX };"));
        assertEquals(0, io.grad4j.backend.ReduceOp.SUM.ordinal());
    }

    private static String firstWord(String s) {
        return s.trim().split("\\s+")[0];
    }

    static String sha256(byte[] data) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}
