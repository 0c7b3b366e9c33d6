package io.grad4j.cuda;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kernel design properties read off the machine code of the committed fatbin, without a GPU.
 * {@code src/main/cuda/sass-report.txt} is written by {@code build-kernels.sh} from
 * {@code cuobjdump -sass} (fields explained in {@code cuda-backend/sass_summary.py}); this test
 * first checks that the report describes the fatbin on the classpath, so a rebuilt kernel
 * binary cannot keep an old report, then checks what each kernel's design promises:
 * no local memory, 16-byte accesses on the memory-bound paths, no fused multiply-add in the
 * optimizer update (it rounds as the cpu does), and GEMM k loops that are mostly FMAs fed by
 * 16-byte shared loads.
 */
class SassReportTest {
    private static final Path REPORT = Path.of("src/main/cuda/sass-report.txt");
    private static final List<String> ARCHS = List.of("sm_80", "sm_90");

    /** "arch kernel" -> field -> value. */
    private static final Map<String, Map<String, Integer>> KERNELS = new HashMap<>();
    private static String reportedFatbinHash;

    @BeforeAll
    static void readReport() throws IOException {
        for (String line : Files.readAllLines(REPORT)) {
            if (line.startsWith("# fatbin sha256 ")) {
                reportedFatbinHash = line.substring("# fatbin sha256 ".length()).trim();
            }
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] parts = line.trim().split("\\s+");
            Map<String, Integer> fields = new HashMap<>();
            for (int i = 2; i < parts.length; i++) {
                String[] kv = parts[i].split("=", 2);
                fields.put(kv[0], Integer.parseInt(kv[1]));
            }
            KERNELS.put(parts[0] + " " + parts[1], fields);
        }
    }

    private static int field(String arch, String kernel, String name) {
        Map<String, Integer> fields = KERNELS.get(arch + " " + kernel);
        assertNotNull(fields, "sass-report.txt has no line for " + kernel + " on " + arch);
        Integer v = fields.get(name);
        assertNotNull(v, "sass-report.txt: " + kernel + " on " + arch + " has no field " + name);
        return v;
    }

    @Test
    void theReportDescribesTheFatbinOnTheClasspath() throws Exception {
        String actual = KernelBinaryTest.sha256(KernelBinaryTest.classpathFatbin());
        assertEquals(actual, reportedFatbinHash,
                "sass-report.txt was written for another build of the fatbin: run cuda-backend/build-kernels.sh --sass and commit it");
    }

    @Test
    void everyKernelIsReportedForBothArchitectures() {
        for (String arch : ARCHS) {
            for (String kernel : CudaBackend.KERNELS) {
                assertTrue(field(arch, kernel, "instructions") > 0, kernel + " on " + arch);
            }
        }
        assertEquals(ARCHS.size() * CudaBackend.KERNELS.size(), KERNELS.size(),
                "the report lists exactly the backend's kernels, once per architecture: " + KERNELS.keySet());
    }

    /**
     * Local memory is a spill or an array indexed at run time, an off-chip round trip either way.
     * One use is CUDA's own: sin and cos (float and double) reduce arguments too large for their
     * fast path by Payne-Hanek over a small local array, a path only such arguments reach. The
     * unary kernels holding SIN and COS (each function inlined once per loop of the vectorised map)
     * may have exactly the accesses measured with nvcc 13, pinned per kernel so a spill there still
     * fails; every other kernel none.
     */
    private static final Map<String, Integer> SIN_COS_LOCAL = Map.of("unary_f32", 50, "unary_backward_f32", 50,
            "unary_f64", 5, "unary_backward_f64", 5);

    @Test
    void noKernelUsesLocalMemory() {
        KERNELS.forEach((kernel, fields) -> assertEquals(SIN_COS_LOCAL.getOrDefault(kernel.substring(kernel.indexOf(' ') + 1), 0),
                fields.get("local"), kernel + " loads or stores local memory (LDL/STL)"));
    }

    /** The cpu backend rounds alpha*x and beta*y separately; a contracted FMA made cuda training drift from it. */
    @Test
    void theOptimizerUpdateHasNoFusedMultiplyAdd() {
        for (String arch : ARCHS) {
            for (String kernel : List.of("axpby_f32", "axpby_f64", "axpby_list_f32", "axpby_list_f64")) {
                assertEquals(0, field(arch, kernel, "fma32") + field(arch, kernel, "fma64"), kernel + " on " + arch);
            }
        }
    }

    /** The memory-bound kernels reach copy bandwidth only with 16-byte loads and stores (map_contig's fast path). */
    @Test
    void memoryBoundKernelsMoveSixteenBytesPerAccess() {
        for (String arch : ARCHS) {
            for (String t : List.of("f32", "f64")) {
                assertTrue(field(arch, "fill_" + t, "stg128") > 0, "fill_" + t + " on " + arch);
                for (String kernel : List.of("unary", "unary_backward", "axpby", "axpby_list", "copy_list", "adam_list",
                        "binary_contig", "binary_rows")) {
                    String name = kernel + "_" + t;
                    assertTrue(field(arch, name, "ldg128") > 0, name + " on " + arch + " has 16-byte loads");
                    assertTrue(field(arch, name, "stg128") > 0, name + " on " + arch + " has 16-byte stores");
                }
            }
        }
    }

    /**
     * gemm128_f32: one k loop per layout (NN, NT, TN, TT), each 8 k steps of an 8 x 8 outer
     * product per thread (512 FFMA) fed by 16-byte shared loads only, with FMAs the large
     * majority of the loop's instructions.
     */
    @Test
    void theLargeTileGemmLoopIsMostlyFusedMultiplyAdds() {
        for (String arch : ARCHS) {
            assertEquals(4, field(arch, "gemm128_f32", "main_loops"), "one k loop per layout on " + arch);
            assertEquals(512, field(arch, "gemm128_f32", "loop_fma_min"), "FFMAs per k loop on " + arch);
            assertEquals(0, field(arch, "gemm128_f32", "loop_lds_scalar_max"), "scalar shared loads on " + arch);
            assertTrue(field(arch, "gemm128_f32", "loop_fma_share_min") >= 70,
                    "FMA share of the k loop on " + arch + ": " + field(arch, "gemm128_f32", "loop_fma_share_min") + "%");
        }
    }

    /** The 64-tile kernels: 16 k steps of a 4 x 4 outer product per thread, 16-byte shared loads only. */
    @Test
    void theSmallTileGemmLoopsReadSharedMemoryInVectors() {
        for (String arch : ARCHS) {
            for (String kernel : List.of("gemm_f32", "gemm_f64")) {
                assertEquals(256, field(arch, kernel, "loop_fma_min"), kernel + " FMAs per k loop on " + arch);
                assertEquals(0, field(arch, kernel, "loop_lds_scalar_max"), kernel + " scalar shared loads on " + arch);
            }
        }
    }

    /** gemm_tf32 really runs on the tensor cores: 16 WMMA m16n16k8 products per k step of 16 (64 HMMA). */
    @Test
    void theTf32GemmUsesTensorCores() {
        for (String arch : ARCHS) {
            assertTrue(field(arch, "gemm_tf32", "loop_fma_min") >= 64, "HMMA per k loop on " + arch);
            assertEquals(0, field(arch, "gemm_tf32", "fma32"), "no FFMA in gemm_tf32 on " + arch);
        }
    }
}
