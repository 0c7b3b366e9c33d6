package io.grad4j.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The launch-checking table against the kernels' source: every extern "C" kernel with its
 * parameters' kinds, parsed again here (regenerate with {@code python3 cuda-backend/kernel-signatures.py}).
 * Needs no GPU.
 */
class KernelSignaturesTest {
    private static final Map<String, KernelSignatures.Arg> KINDS = Map.of("int", KernelSignatures.Arg.I32,
            "i64", KernelSignatures.Arg.I64, "u64", KernelSignatures.Arg.I64, "long long", KernelSignatures.Arg.I64,
            "float", KernelSignatures.Arg.F32, "double", KernelSignatures.Arg.F64, "Dims", KernelSignatures.Arg.DIMS,
            "PairList", KernelSignatures.Arg.STRUCT, "AdamList", KernelSignatures.Arg.STRUCT, "GemmArgs", KernelSignatures.Arg.STRUCT);

    @Test
    void theTableMatchesTheKernelsSource() throws IOException {
        String source = Files.readString(Path.of("src/main/cuda/grad4j_kernels.cu")).replaceAll("__launch_bounds__\\s*\\([^)]*\\)", "");
        Matcher m = Pattern.compile("extern\\s+\"C\"\\s+__global__\\s+void\\s+(\\w+)\\s*\\(([^)]*)\\)").matcher(source);
        Map<String, List<KernelSignatures.Arg>> parsed = new TreeMap<>();
        while (m.find()) {
            List<KernelSignatures.Arg> kinds = new ArrayList<>();
            for (String param : m.group(2).split(",")) {
                String type = param.trim().replaceAll("\\s+", " ").replaceAll("\\s*\\b\\w+$", "");
                if (!param.isBlank()) {
                    kinds.add(type.endsWith("*") ? KernelSignatures.Arg.PTR : KINDS.get(type));
                }
            }
            parsed.put(m.group(1), kinds);
        }
        assertTrue(parsed.size() > 60, "parsed only " + parsed.size() + " kernels");
        assertEquals(parsed, new TreeMap<>(KernelSignatures.TABLE),
                "KernelSignatures.java is out of date: run python3 cuda-backend/kernel-signatures.py");
        assertEquals(parsed.keySet(), new java.util.TreeSet<>(CudaBackend.KERNELS), "CudaBackend.KERNELS and the source differ");
    }

    @Test
    void aLaunchWithTheWrongArgumentsIsRefusedNamingTheKernel() {
        IllegalStateException count = assertThrows(IllegalStateException.class,
                () -> KernelSignatures.check("fill_f32", new Object[] {0L, 3L}));
        assertTrue(count.getMessage().contains("fill_f32") && count.getMessage().contains("takes 3"), count.getMessage());
        IllegalStateException kind = assertThrows(IllegalStateException.class,
                () -> KernelSignatures.check("fill_f32", new Object[] {0L, 3, 1f}));
        assertTrue(kind.getMessage().contains("argument 1 must be I64") && kind.getMessage().contains("Integer"),
                kind.getMessage());
        assertThrows(IllegalStateException.class, () -> KernelSignatures.check("no_such_kernel", new Object[0]));
        KernelSignatures.check("fill_f32", new Object[] {0L, 3L, 1f}); // 0L: a null pointer
    }
}
