package io.grad4j.examples;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `grad4j gpt` end to end on the cpu backend with a tiny GPT, on tiny-shakespeare from
 * ../shared/data (CI has it; a user's clone does not, and then these tests skip saying so).
 */
class GptCliTest {
    @TempDir
    Path dir;

    /** ../shared/data/tinyshakespeare/input.txt, looked for beside every folder above this one. */
    static Path shakespeare() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared/data/tinyshakespeare/input.txt");
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    private static Path requireData() {
        Path text = shakespeare();
        Assumptions.assumeTrue(text != null, "tiny-shakespeare is not at ../shared/data/tinyshakespeare/input.txt"
                + " (a clone without the shared data; `grad4j gpt download` fetches it)");
        return text;
    }

    private static final String[] TINY = {"--layers", "1", "--heads", "2", "--width", "32", "--context", "32", "--batch", "8",
            "--eval-every", "20", "--eval-batches", "4", "--warmup", "5", "--dropout", "0", "--lr", "3e-3", "--no-progress"};

    private static String[] args(String... head) {
        String[] all = new String[head.length + TINY.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(TINY, 0, all, head.length, TINY.length);
        return all;
    }

    private static String finalLine(String stdout) {
        return stdout.lines().filter(l -> l.startsWith("final:")).findFirst().orElse("(no final line) " + stdout);
    }

    @Test
    void trainsSamplesAndResumesExactly() throws Exception {
        Path text = requireData();
        Path ckpt = dir.resolve("ckpt");
        CliRun r = CliRun.of(args("gpt", "train", "--data", text.toString(), "--steps", "60", "--checkpoint-dir", ckpt.toString(),
                "--out", dir.resolve("a").toString()));
        assertEquals(0, r.exit(), r.stderr());
        String last = finalLine(r.stdout());
        assertTrue(last.matches("final: steps=60 best_val_loss=\\d+\\.\\d{4} seconds=\\d+\\.\\d backend=cpu"), last);
        double best = Double.parseDouble(last.replaceAll(".*best_val_loss=(\\S+).*", "$1"));
        assertTrue(best < Math.log(65) - 0.5, "60 steps must learn the character frequencies at least: " + r.stdout());
        assertTrue(Files.size(dir.resolve("a/loss.png")) > 1000, "the loss curve is drawn");
        assertTrue(Files.readAllLines(dir.resolve("a/metrics.csv")).size() >= 4);

        CliRun s = CliRun.of("gpt", "sample", "--checkpoint-dir", ckpt.toString(), "--tokens", "40", "--prompt", "ROMEO:");
        assertEquals(0, s.exit(), s.stderr());
        assertTrue(s.stdout().startsWith("ROMEO:") && s.stdout().strip().length() >= 40, s.stdout());

        // a run stopped at its step-40 checkpoint and resumed ends where an uninterrupted run does
        Path part = dir.resolve("part");
        CliRun straight = CliRun.of(args("gpt", "train", "--data", text.toString(), "--steps", "60", "--out", dir.resolve("b").toString()));
        CliRun half = CliRun.of(args("gpt", "train", "--data", text.toString(), "--steps", "60", "--stop-at", "40",
                "--checkpoint-dir", part.toString(), "--out", dir.resolve("c").toString()));
        assertEquals(0, half.exit(), half.stderr());
        String step40 = half.stdout().lines().filter(l -> l.startsWith("step 40:")).findFirst().orElseThrow();
        CliRun resumed = CliRun.of(args("gpt", "train", "--data", text.toString(), "--steps", "60", "--checkpoint-dir",
                part.toString(), "--resume", "--out", dir.resolve("d").toString()));
        assertEquals(0, resumed.exit(), resumed.stderr());
        assertTrue(resumed.stdout().contains("resumed from"), resumed.stdout());
        String resumedStep60 = resumed.stdout().lines().filter(l -> l.startsWith("step 60:")).findFirst().orElseThrow();
        String straightStep60 = straight.stdout().lines().filter(l -> l.startsWith("step 60:")).findFirst().orElseThrow();
        assertEquals(straightStep60.replaceAll(", [0-9.]+s$", ""), resumedStep60.replaceAll(", [0-9.]+s$", ""),
                "step 40 was " + step40);
    }

    @Test
    void badSettingsAndMissingDataAreRefusedSayingWhat() throws Exception {
        CliRun r = CliRun.of("gpt", "train", "--width", "30", "--heads", "4", "--data", dir.resolve("none.txt").toString());
        assertEquals(2, r.exit());
        assertTrue(r.stderr().contains("--width 30 must be a multiple of --heads 4"), r.stderr());
        CliRun missing = CliRun.of("gpt", "train", "--data", dir.resolve("none.txt").toString(), "--steps", "2", "--warmup", "1");
        assertEquals(1, missing.exit());
        assertTrue(missing.stderr().contains("none.txt"), missing.stderr());
        Files.writeString(dir.resolve("wrong.txt"), "not shakespeare");
        CliRun download = CliRun.of("gpt", "download", "--cache", dir.resolve("cache").toString(), "--url",
                dir.resolve("wrong.txt").toUri().toString());
        assertEquals(1, download.exit());
        assertTrue(download.stderr().contains("sha256") && !Files.exists(dir.resolve("cache/input.txt")), download.stderr());
    }

    @Test
    void downloadChecksTheSha256AndKeepsTheFile() throws Exception {
        Path text = requireData();
        CliRun r = CliRun.of("gpt", "download", "--cache", dir.resolve("cache").toString(), "--url", text.toUri().toString());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(GptCommand.SHA256, GptCommand.sha256(dir.resolve("cache/input.txt")));
        CliRun again = CliRun.of("gpt", "download", "--cache", dir.resolve("cache").toString(), "--url", text.toUri().toString());
        assertTrue(again.stdout().contains("already there"), again.stdout());
    }
}
