package io.grad4j.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

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
        byte[] fatbin;
        try (InputStream in = CudaBackend.class.getResourceAsStream(CudaBackend.FATBIN)) {
            assertNotNull(in, CudaBackend.FATBIN + " is on the classpath");
            fatbin = in.readAllBytes();
        }
        String recorded = firstWord(Files.readString(RES_DIR.resolve("grad4j_kernels.fatbin.sha256")));
        assertEquals(recorded, sha256(fatbin));
        assertTrue(fatbin.length > 1000);
    }

    @Test
    void everyLaunchedKernelIsExported() throws IOException {
        String src = Files.readString(CUDA_DIR.resolve("grad4j_kernels.cu"));
        String[] bases = {"fill", "unary", "unary_backward", "binary_contig", "binary_strided", "strided_copy",
                "reduce_rows", "reduce_rows_block", "reduce_cols", "max_backward_rows", "max_backward_cols", "softmax_rows", "softmax_cols",
                "softmax_backward_rows", "softmax_backward_cols", "gemm"};
        for (String b : bases) {
            for (String suffix : new String[]{"_f32", "_f64"}) {
                assertTrue(src.contains(" " + b + suffix + "("), "kernel " + b + suffix + " is defined");
            }
        }
        assertTrue(src.contains(" cast_f2d(") && src.contains(" cast_d2f("));
        String report = Files.readString(CUDA_DIR.resolve("ptxas-report.txt"));
        assertTrue(report.contains("gemm_f32") && report.contains("registers"), "ptxas report is committed");
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

    private static String sha256(byte[] data) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}
