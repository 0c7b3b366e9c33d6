package io.grad4j.examples;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the README's "JVM flags" table promises: a program started without
 * {@code --enable-native-access} still trains on the cpu backend, and the JVM's warning names the
 * flag that silences it; with the flag there is no warning; and nothing needs
 * {@code --sun-misc-unsafe-memory-access} any more (ND4J did).
 */
class JvmFlagsTest {
    @TempDir
    Path out;

    private record Child(int exit, String output) {
    }

    private Child train(String... jvmFlags) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new java.util.ArrayList<>(List.of(java, "-XX:TieredStopAtLevel=1", "-Dgrad4j.backend=cpu"));
        cmd.addAll(List.of(jvmFlags));
        cmd.addAll(List.of("-cp", cp, "io.grad4j.examples.Grad4jCli", "train", "--no-progress", "--epochs", "1",
                "--hidden", "8", "--batch", "256", "--out", out.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] bytes = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child JVM finished");
        return new Child(p.exitValue(), new String(bytes, StandardCharsets.UTF_8));
    }

    @Test
    void withoutTheNativeAccessFlagTrainingWorksAndTheWarningNamesTheFlag() throws Exception {
        Child c = train();
        assertEquals(0, c.exit(), c.output());
        assertTrue(c.output().contains("final: epochs=1"), c.output());
        assertTrue(c.output().contains("--enable-native-access"), "the JVM's warning names the flag: " + c.output());
        assertFalse(c.output().contains("sun.misc.Unsafe"), c.output());
    }

    @Test
    void withTheFlagThereIsNoWarning() throws Exception {
        Child c = train("--enable-native-access=ALL-UNNAMED");
        assertEquals(0, c.exit(), c.output());
        assertFalse(c.output().contains("WARNING"), c.output());
    }
}
