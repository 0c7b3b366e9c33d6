package io.grad4j.cpu;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.TensorLeaks;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * -Dgrad4j.debug.leaks=true in a child JVM (the switch is read once per JVM): live() names the line
 * that created an unclosed tensor, closing removes it, and a collected one is logged with its site.
 */
class LeakDetectorTest {
    /** Runs in the child JVM. */
    public static void main(String[] args) throws InterruptedException {
        Tensor kept = Tensor.zeros(DType.FLOAT32, 3);          // stays open: reported by live()
        Tensor closed = Tensor.zeros(DType.FLOAT32, 4);
        closed.close();                                          // closed: not reported
        Map<String, Integer> live = TensorLeaks.live();
        System.out.println("LIVE " + live);
        makeGarbage();                                           // collected without close(): logged
        for (int i = 0; i < 50 && TensorLeaks.liveCount() > 1; i++) {
            System.gc();
            Thread.sleep(20);
        }
        System.out.println("COUNT " + TensorLeaks.liveCount() + " " + kept.numel());
    }

    private static void makeGarbage() {
        Tensor.ones(DType.FLOAT64, 2, 2);
    }

    @Test
    void reportsWhereUnclosedTensorsWereCreated() throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Dgrad4j.debug.leaks=true",
                "-Dgrad4j.backend=cpu", "-Dgrad4j.cpu.gemm=java", "-cp", System.getProperty("java.class.path"),
                LeakDetectorTest.class.getName())
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        List<String> lines = out.lines().toList();
        String live = lines.stream().filter(l -> l.startsWith("LIVE ")).findFirst().orElse("");
        assertTrue(live.contains("LeakDetectorTest.main(LeakDetectorTest.java:") && live.contains("=1"),
                "live() must name the creating line once: " + out);
        assertTrue(out.contains("was never closed") && out.contains("LeakDetectorTest.makeGarbage"),
                "a collected tensor is logged with its creation site: " + out);
        assertTrue(lines.stream().anyMatch(l -> l.equals("COUNT 1 3")), out);
    }
}
