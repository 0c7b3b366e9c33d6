package io.grad4j.cuda;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs the real grad4j_kernels.cu without a GPU: g++ compiles src/test/cuda/kernel_emulation_test.cpp
 * (the kernel file behind a CUDA emulation shim, see src/test/cuda/emulation) and the program checks
 * every kernel against reference loops, with CUDA's threads, barriers and warp shuffles emulated by
 * CPU threads. Skipped where g++ is missing.
 */
class KernelEmulationTest {
    private static final Path CUDA_TESTS = Path.of("src/test/cuda");
    private static final Path HARNESS = CUDA_TESTS.resolve("kernel_emulation_test.cpp");
    private static final Path KERNELS = Path.of("src/main/cuda/grad4j_kernels.cu");
    private static final Path BINARY = Path.of("target/kernel-emulation/kernel_emulation_test");
    /**
     * The harness's documented build: no FMA contraction (the references assume separate roundings),
     * and sanitizers that turn a misaligned vector access or an index outside a __shared__ array
     * into a crash that names the running case.
     */
    private static final List<String> FLAGS = List.of("-std=c++20", "-O1", "-pthread", "-fno-strict-aliasing",
            "-ffp-contract=off", "-fsanitize=bounds,alignment", "-fno-sanitize-recover=all");
    private static final long COMPILE_LIMIT_S = 300;
    private static final long RUN_LIMIT_S = 300;
    private static final Pattern KERNEL_DEFINITION =
            Pattern.compile("extern \"C\" __global__ void (?:__launch_bounds__\\([^)]*\\) )?(\\w+)\\(");

    @Test
    void everyKernelMatchesItsReferenceUnderEmulatedCudaThreads() throws Exception {
        assumeTrue(onPath("g++"), "g++ is not on PATH: the CPU emulation of the CUDA kernels needs a C++20 g++ "
                + "(Debian/Ubuntu: apt-get install g++)");
        assumeTrue(Files.exists(HARNESS) && Files.exists(KERNELS), "the kernel sources are not here (" + HARNESS.toAbsolutePath()
                + "): the emulation runs from the cuda-backend module of a checkout");
        Files.createDirectories(BINARY.getParent());
        List<String> compile = new ArrayList<>(List.of("g++"));
        compile.addAll(FLAGS);
        compile.addAll(List.of("-I" + CUDA_TESTS.resolve("emulation").toAbsolutePath(),
                HARNESS.toAbsolutePath().toString(), "-o", BINARY.toAbsolutePath().toString()));
        Result built = run(compile, COMPILE_LIMIT_S);
        assertEquals(0, built.status, () -> "g++ could not build the kernel emulation:\n" + String.join(" ", compile)
                + "\n" + built.output);

        Result tested = run(List.of(BINARY.toAbsolutePath().toString()), RUN_LIMIT_S);
        System.out.println("kernel emulation:\n" + tail(tested.output, 3));
        assertEquals(0, tested.status, () -> "the kernel emulation failed (status " + tested.status
                + ": 1 = a kernel disagreed with its reference, 3 = emulation error, other = crash):\n" + tested.output);

        Set<String> untested = new LinkedHashSet<>(kernelsDefinedIn(Files.readString(KERNELS)));
        untested.removeAll(kernelsTested(tested.output));
        assertTrue(untested.isEmpty(), () -> "kernels of grad4j_kernels.cu without an emulation test: " + untested
                + "; add their cases to " + HARNESS);
    }

    @Test
    void kernelNamesAreFoundInTheKernelFile() throws IOException {
        // the coverage check above is only as good as this pattern
        Set<String> names = kernelsDefinedIn(Files.readString(KERNELS));
        assertTrue(names.contains("gemm_f32") && names.contains("cast_f2d") && names.contains("cross_entropy_small_backward_f64"),
                names::toString);
        assertTrue(names.size() >= 40, () -> names.size() + " kernels: " + names);
    }

    static Set<String> kernelsDefinedIn(String source) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = KERNEL_DEFINITION.matcher(source);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    /** The names on the harness's "kernels tested (N): a b c" line. */
    private static Set<String> kernelsTested(String output) {
        for (String line : output.split("\n")) {
            if (line.startsWith("kernels tested")) {
                return new LinkedHashSet<>(Arrays.asList(line.substring(line.indexOf(':') + 1).trim().split(" ")));
            }
        }
        return fail("the kernel emulation printed no \"kernels tested\" line:\n" + output);
    }

    private record Result(int status, String output) {
    }

    private static Result run(List<String> command, long limitSeconds) throws IOException, InterruptedException {
        Path log = Files.createTempFile("kernel-emulation", ".log");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(limitSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                return new Result(-1, "did not finish within " + limitSeconds + " s: " + String.join(" ", command)
                        + "\n" + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    private static boolean onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    private static String tail(String text, int lines) {
        String[] all = text.strip().split("\n");
        return String.join("\n", Arrays.copyOfRange(all, Math.max(0, all.length - lines), all.length));
    }
}
