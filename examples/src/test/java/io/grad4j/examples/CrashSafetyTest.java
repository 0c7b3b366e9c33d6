package io.grad4j.examples;

import io.grad4j.checkpoint.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code grad4j train --checkpoint-dir} killed with SIGKILL ({@link Process#destroyForcibly()})
 * in a child JVM at many moments, several of them while a checkpoint file is being written: after
 * every kill the directory must hold a complete, loadable checkpoint (model and optimizer state of
 * the same epoch, no partial file under a checkpoint's name), and {@code --resume} must continue
 * from it. A kill can only leave the atomic writer's dot-prefixed temporary files behind.
 */
class CrashSafetyTest {
    private static final String MODEL = "model.safetensors";
    private static final String OPTIMIZER = "optimizer.safetensors";
    /** Kills that should land inside a file's write, then kills after random delays. */
    private static final int WRITE_WINDOW_KILLS = 6;
    private static final int RANDOM_KILLS = 6;
    private static final long ATTEMPT_TIMEOUT_MS = 15_000;

    @TempDir
    Path work;

    private int runs;

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void killedTrainingAlwaysLeavesALoadableCheckpointAndResumes() throws Exception {
        Path ckpt = work.resolve("ckpt");
        Random rnd = new Random(20261127);
        List<String> outcomes = new ArrayList<>();
        int midWrite = 0;
        int epochsApart = 0;
        int lastEpoch = 0;
        Set<String> temps = new HashSet<>();
        long t0 = System.nanoTime();
        int aimed = 0;
        int kill = 0;
        // aimed kills until WRITE_WINDOW_KILLS of them landed inside a write (or twice as many tries),
        // then RANDOM_KILLS kills after random delays
        for (; aimed < 2 * WRITE_WINDOW_KILLS && midWrite < WRITE_WINDOW_KILLS || kill < aimed + RANDOM_KILLS; kill++) {
            boolean aiming = aimed < 2 * WRITE_WINDOW_KILLS && midWrite < WRITE_WINDOW_KILLS;
            boolean resume = kill > 0;
            Process p = startTraining(ckpt, resume);
            try {
                // the run must first prove it resumed and moved on: a checkpoint newer than the last
                waitForCheckpointAfter(p, ckpt, lastEpoch);
                String how;
                if (aiming) {
                    // alternate between the two files: a kill while the model is written lands between
                    // the optimizer's rename and the model's, the worst moment for a two-file checkpoint
                    String target = aimed++ % 2 == 0 ? MODEL : OPTIMIZER;
                    how = waitForTempFile(p, ckpt, target, temps) ? "as " + target + "'s temporary file appeared" : "(no " + target + " write seen)";
                } else {
                    int delay = rnd.nextInt(120);
                    Thread.sleep(delay);
                    how = "after " + delay + " ms";
                }
                p.destroyForcibly();
                assertTrue(p.waitFor(10, TimeUnit.SECONDS), "the killed child exits");
                Check c = checkDirectory(ckpt);
                // a new temporary file proves the kill landed inside a write
                List<String> fresh = c.files().stream().filter(n -> n.endsWith(".tmp") && !temps.contains(n)).toList();
                temps.addAll(fresh);
                midWrite += fresh.isEmpty() ? 0 : 1;
                how += fresh.isEmpty() ? "" : " (left " + fresh + ")";
                epochsApart += c.optimizerAhead() ? 1 : 0;
                assertTrue(c.epoch() >= lastEpoch, "the checkpoint never goes back: " + c);
                lastEpoch = c.epoch();
                outcomes.add("kill " + (kill + 1) + " " + how + ": checkpoint of epoch " + c.epoch()
                        + " loads (" + c.describe() + ")");
            } finally {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
        // and the last one resumes to a normal finish
        String[] args = {"train", "--no-progress", "--hidden", "32", "--batch", "64", "--epochs",
                Integer.toString(lastEpoch + 1), "--checkpoint-dir", ckpt.toString(), "--resume",
                "--out", work.resolve("final").toString()};
        CliRun last = CliRun.of(args);
        assertEquals(0, last.exit(), last.stderr());
        assertTrue(last.stdout().contains("resumed from") && last.stdout().contains("after epoch " + lastEpoch),
                last.stdout());
        assertTrue(last.stdout().contains("final: epochs=" + (lastEpoch + 1)), last.stdout());
        assertEquals(lastEpoch + 1, checkDirectory(ckpt).epoch());

        outcomes.forEach(o -> System.out.println("[crash-safety] " + o));
        System.out.printf("[crash-safety] %d kills (%d child JVMs), %d left a temporary file behind (killed mid-write), "
                        + "%d left the optimizer file ahead of the model, %d temporary files in all; every one loaded and resumed; %.1f s%n",
                kill, runs, midWrite, epochsApart, temps.size(), (System.nanoTime() - t0) / 1e9);
    }

    // ---------------------------------------------------------------- the child JVM

    private Process startTraining(Path ckpt, boolean resume) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // surefire may hand the JVM a manifest-only jar as java.class.path; the real one is here
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-Dgrad4j.backend=cpu", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", cp,
                "io.grad4j.examples.Grad4jCli", "train", "--no-progress", "--hidden", "32", "--batch", "64",
                "--epochs", "100000", "--checkpoint-dir", ckpt.toString(), "--out", work.resolve("out").toString()));
        if (resume) {
            cmd.add("--resume");
        }
        runs++;
        File log = work.resolve("child-" + runs + ".log").toFile();
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log).start();
    }

    private String log() throws IOException {
        return Files.readString(work.resolve("child-" + runs + ".log"));
    }

    /** Waits until model.safetensors records an epoch after {@code epoch}: the run (re)started and trained on. */
    private void waitForCheckpointAfter(Process p, Path ckpt, int epoch) throws Exception {
        long deadline = System.currentTimeMillis() + ATTEMPT_TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            if (!p.isAlive()) {
                fail("grad4j train exited with " + p.exitValue() + " before writing a checkpoint after epoch " + epoch
                        + ":\n" + log());
            }
            Path model = ckpt.resolve(MODEL);
            if (Files.exists(model) && epochOf(model) > epoch) {
                return;
            }
            Thread.sleep(5);
        }
        fail("no checkpoint after epoch " + epoch + " within " + ATTEMPT_TIMEOUT_MS + " ms:\n" + log());
    }

    /**
     * Polls for a new temporary file of the atomic writer for {@code target} ({@code .target.*.tmp},
     * not one an earlier kill left behind); true once seen.
     */
    private static boolean waitForTempFile(Process p, Path ckpt, String target, Set<String> leftovers) throws IOException {
        String prefix = "." + target + ".";
        long deadline = System.currentTimeMillis() + 5_000;
        while (System.currentTimeMillis() < deadline && p.isAlive()) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(ckpt)) {
                for (Path f : ds) {
                    String n = f.getFileName().toString();
                    if (n.startsWith(prefix) && n.endsWith(".tmp") && !leftovers.contains(n)) {
                        return true;
                    }
                }
            }
            Thread.onSpinWait();
        }
        return false;
    }

    private static int epochOf(Path file) throws IOException {
        return Integer.parseInt(Safetensors.header(file).metadata().get("epoch"));
    }

    // ---------------------------------------------------------------- what a kill may leave

    private record Check(int epoch, int tempFiles, boolean optimizerAhead, List<String> files) {
        String describe() {
            return files.stream().filter(n -> !n.endsWith(".tmp")).toList()
                    + (optimizerAhead ? ", optimizer.safetensors one epoch ahead" : "");
        }
    }

    /**
     * Every file is a checkpoint file or a dot-prefixed temporary; model.safetensors loads
     * completely with the model's tensors; an optimizer file of the same epoch loads completely.
     */
    private static Check checkDirectory(Path ckpt) throws IOException {
        List<String> names;
        try (Stream<Path> s = Files.list(ckpt)) {
            names = s.map(f -> f.getFileName().toString()).sorted().toList();
        }
        int temps = 0;
        List<Path> optimizerFiles = new ArrayList<>();
        for (String n : names) {
            if (n.startsWith(".") && n.endsWith(".tmp")) {
                temps++;
            } else if (n.startsWith("optimizer") && n.endsWith(".safetensors")) {
                optimizerFiles.add(ckpt.resolve(n));
            } else if (!n.equals(MODEL) && !n.equals(CheckpointLock.FILE)) { // the lock file: empty, released by the OS on a kill
                fail("unexpected file " + n + " in the checkpoint directory: " + names);
            }
        }
        Path model = ckpt.resolve(MODEL);
        assertTrue(Files.exists(model), "model.safetensors is missing: " + names);
        int epoch;
        try (Safetensors.Loaded m = Safetensors.load(model)) {
            assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias"), List.copyOf(m.tensors().keySet()));
            assertArrayEquals(new int[] {32, 784}, m.tensor("0.weight").shape()); // [out, in], as PyTorch
            assertArrayEquals(new int[] {10, 32}, m.tensor("2.weight").shape());
            epoch = Integer.parseInt(m.metadata().get("epoch"));
        }
        boolean matched = false;
        boolean ahead = false;
        for (Path f : optimizerFiles) {
            try (Safetensors.Loaded o = Safetensors.load(f)) {
                int e = Integer.parseInt(o.metadata().get("epoch"));
                assertEquals(4, o.tensors().size(), f + " holds one momentum buffer per parameter");
                matched |= e == epoch;
                ahead |= f.getFileName().toString().equals(OPTIMIZER) && e == epoch + 1;
            }
        }
        assertTrue(matched, "no optimizer state of the model's epoch " + epoch + " among " + optimizerFiles
                + ": --resume could not continue exactly");
        return new Check(epoch, temps, ahead, names);
    }
}
