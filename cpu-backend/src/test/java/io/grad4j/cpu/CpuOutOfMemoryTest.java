package io.grad4j.cpu;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.DeviceOutOfMemoryException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tensor larger than the Java heap is the cpu backend's out-of-memory: the type cuda throws, with
 * what to do, and the JVM goes on. Runs in a child JVM with a 256 MB heap, so it means the same on
 * every machine whatever its default heap.
 */
class CpuOutOfMemoryTest {
    /** The child: asks for 512 MB of doubles, then checks the JVM still computes. */
    public static void main(String[] args) {
        int elements = 64 << 20;
        try {
            Tensor.zeros(DType.FLOAT64, elements);
            System.out.println("allocated");
        } catch (DeviceOutOfMemoryException e) {
            System.out.println("requested=" + e.requestedBytes());
            System.out.println("message=" + e.getMessage());
        }
        float[] after = Tensor.of(new float[] {1, 1}, 2).add(2).toFloatArray();
        System.out.println("after=" + after[0] + "," + after[1]);
    }

    @Test
    void aTensorLargerThanTheHeapThrowsDeviceOutOfMemoryAndTheJvmGoesOn() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-Dgrad4j.backend=cpu",
                "-cp", cp, CpuOutOfMemoryTest.class.getName()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        long bytes = 8L * (64 << 20);
        assertTrue(out.contains("requested=" + bytes), out);
        assertTrue(out.contains("message=cpu: out of Java heap allocating " + bytes + " bytes"), out);
        assertTrue(out.contains("-Xmx"), out);
        assertTrue(out.contains("after=3.0,3.0"), out);
    }
}
