package io.grad4j.examples;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line end to end on the cpu backend, with small runs. */
class CliTest {
    @TempDir
    Path out;

    @Test
    void trainPrintsEpochLinesAMetricsFileAndTheFinalLine() throws Exception {
        CliRun r = CliRun.of("train", "--no-progress", "--epochs", "2", "--hidden", "32", "--batch", "128", "--out", out.toString());
        assertEquals(0, r.exit(), r.stderr());
        List<String> lines = r.stdout().lines().toList();
        String last = lines.get(lines.size() - 1);
        assertTrue(last.matches("final: epochs=2 test_accuracy=0\\.\\d{4} train_loss=\\d+\\.\\d{4} seconds=\\d+\\.\\d backend=cpu"), last);
        double accuracy = Double.parseDouble(last.replaceAll(".*test_accuracy=(\\S+).*", "$1"));
        assertTrue(accuracy > 0.85, "two epochs of a small MLP should pass 85%: " + last);
        assertEquals(3, Files.readAllLines(out.resolve("metrics.csv")).size());
        assertTrue(Files.size(out.resolve("metrics.png")) > 1000, "the loss/accuracy plot is written");
    }

    /**
     * --model cnn: one epoch of the CNN learns the digits, its checkpoint carries the conv layers
     * under PyTorch's state dict names, and a resume with the other model is refused by name.
     */
    @Test
    void theCnnTrainsAndCheckpointsUnderTorchNames(@TempDir Path ckpt) throws Exception {
        CliRun r = CliRun.of("train", "--model", "cnn", "--epochs", "1", "--no-progress", "--checkpoint-dir", ckpt.toString(),
                "--out", out.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.stdout().contains("CNN") && r.stdout().contains("weight decay 5.0E-4")
                && r.stdout().contains("cosine"), r.stdout());
        String last = r.stdout().lines().reduce((a, b) -> b).orElseThrow();
        double accuracy = Double.parseDouble(last.replaceAll(".*test_accuracy=(\\S+).*", "$1"));
        assertTrue(accuracy > 0.9, "one epoch of the CNN should pass 90%: " + last);
        var header = io.grad4j.checkpoint.Safetensors.header(ckpt.resolve("model.safetensors"));
        java.util.Map<String, int[]> shapes = new java.util.LinkedHashMap<>();
        header.tensors().forEach(t -> shapes.put(t.name(), t.shape()));
        assertEquals(List.of("1.weight", "1.bias", "4.weight", "4.bias", "8.weight", "8.bias", "11.weight", "11.bias"),
                List.copyOf(shapes.keySet()));
        assertTrue(java.util.Arrays.equals(new int[] {32, 1, 3, 3}, shapes.get("1.weight")));
        assertTrue(java.util.Arrays.equals(new int[] {128, 3136}, shapes.get("8.weight")));
        CliRun other = CliRun.of("train", "--epochs", "2", "--no-progress", "--checkpoint-dir", ckpt.toString(), "--resume",
                "--out", out.resolve("b").toString());
        assertEquals(1, other.exit());
        assertTrue(other.stderr().contains("cnn") && other.stderr().contains("mlp"), other.stderr());
        CliRun hidden = CliRun.of("train", "--model", "cnn", "--hidden", "8", "--out", out.resolve("c").toString());
        assertEquals(2, hidden.exit());
        assertTrue(hidden.stderr().contains("--hidden"), hidden.stderr());
    }

    @Test
    void versionComesFromTheBuild() {
        CliRun r = CliRun.of("--version");
        assertEquals(0, r.exit(), r.stderr());
        String expected = System.getProperty("grad4j.test.projectVersion");
        assertTrue(expected != null && !expected.isBlank(), "the pom passes grad4j.test.projectVersion");
        assertTrue(r.stdout().startsWith("grad4j " + expected + System.lineSeparator()), r.stdout());
        assertTrue(r.stdout().contains("Java " + Runtime.version()), r.stdout());
    }

    /** Surefire's JVM has no terminal, like a log file, a pipe or CI: no bar, only the epoch lines. */
    @Test
    void noProgressBarWithoutATerminal() {
        java.io.ByteArrayOutputStream errBytes = new java.io.ByteArrayOutputStream();
        java.io.PrintStream savedErr = System.err;
        CliRun r;
        try (java.io.PrintStream capture = new java.io.PrintStream(errBytes, true)) {
            System.setErr(capture);
            r = CliRun.of("train", "--epochs", "1", "--hidden", "16", "--batch", "256", "--out", out.toString());
        } finally {
            System.setErr(savedErr);
        }
        assertEquals(0, r.exit(), r.stderr());
        String printed = r.stdout() + errBytes;
        assertTrue(!printed.contains("%") && !printed.contains("\r"), "a progress bar was drawn: " + printed);
        assertTrue(r.stdout().contains("epoch 1/1"), r.stdout());
    }

    @Test
    void resumeContinuesExactlyWhereTheCheckpointLeftOff(@TempDir Path ckpt) {
        String[] common = {"--no-progress", "--hidden", "24", "--batch", "256", "--optimizer", "adamw", "--lr", "0.003",
                "--dropout", "0.1", "--schedule", "step", "--step-size", "1"};
        CliRun straight = CliRun.of(concat(common, "train", "--epochs", "3", "--out", out.resolve("a").toString()));
        assertEquals(0, straight.exit(), straight.stderr());
        CliRun first = CliRun.of(concat(common, "train", "--epochs", "2", "--checkpoint-dir", ckpt.toString(), "--out", out.resolve("b").toString()));
        assertEquals(0, first.exit(), first.stderr());
        CliRun resumed = CliRun.of(concat(common, "train", "--epochs", "3", "--checkpoint-dir", ckpt.toString(), "--resume",
                "--out", out.resolve("b").toString()));
        assertEquals(0, resumed.exit(), resumed.stderr());
        assertTrue(resumed.stdout().contains("resumed from"), resumed.stdout());
        assertEquals(epochLine(straight.stdout(), 3), epochLine(resumed.stdout(), 3));
        CliRun mismatch = CliRun.of("train", "--no-progress", "--hidden", "32", "--epochs", "3", "--checkpoint-dir", ckpt.toString(),
                "--resume", "--out", out.resolve("c").toString());
        assertEquals(1, mismatch.exit());
        assertTrue(mismatch.stderr().contains("hidden"), mismatch.stderr());
    }

    /**
     * A checkpoint written before Linear weights became [out, in] (rank-2 tensors [in, out], in the
     * model and in the optimizer's moments; no layout key) resumes converted, to the same epoch as
     * an uninterrupted run.
     */
    @Test
    void aCheckpointFromBeforeTheOutInLayoutResumesConverted(@TempDir Path ckpt) throws Exception {
        String[] common = {"--no-progress", "--hidden", "24", "--batch", "256", "--optimizer", "adamw", "--lr", "0.003"};
        CliRun straight = CliRun.of(concat(common, "train", "--epochs", "2", "--out", out.resolve("a").toString()));
        assertEquals(0, straight.exit(), straight.stderr());
        CliRun first = CliRun.of(concat(common, "train", "--epochs", "1", "--checkpoint-dir", ckpt.toString(), "--out", out.resolve("b").toString()));
        assertEquals(0, first.exit(), first.stderr());
        for (String file : List.of("model.safetensors", "optimizer.safetensors")) {
            Path f = ckpt.resolve(file);
            try (io.grad4j.checkpoint.Safetensors.Loaded loaded = io.grad4j.checkpoint.Safetensors.load(f)) {
                java.util.Map<String, io.grad4j.Tensor> old = new java.util.LinkedHashMap<>();
                loaded.tensors().forEach((name, t) -> old.put(name, t.rank() == 2 ? t.transpose().contiguous() : t));
                java.util.Map<String, String> meta = new java.util.LinkedHashMap<>(loaded.metadata());
                String layout = meta.remove(io.grad4j.checkpoint.Checkpoint.LAYOUT_KEY);
                assertEquals(file.startsWith("model") ? "pytorch" : null, layout); // the model file carries it
                io.grad4j.checkpoint.Safetensors.save(f, old, meta);
            }
        }
        CliRun resumed = CliRun.of(concat(common, "train", "--epochs", "2", "--checkpoint-dir", ckpt.toString(), "--resume",
                "--out", out.resolve("b").toString()));
        assertEquals(0, resumed.exit(), resumed.stderr());
        assertEquals(epochLine(straight.stdout(), 2), epochLine(resumed.stdout(), 2));
    }

    private static String[] concat(String[] common, String... first) {
        String[] all = new String[first.length + common.length];
        System.arraycopy(first, 0, all, 0, 1);
        System.arraycopy(common, 0, all, 1, common.length);
        System.arraycopy(first, 1, all, 1 + common.length, first.length - 1);
        return all;
    }

    /** The epoch line without its timing columns (lr and seconds vary / are wall-clock). */
    private static String epochLine(String stdout, int epoch) {
        return stdout.lines().filter(l -> l.startsWith("epoch " + epoch + "/")).findFirst().orElse("missing")
                .replaceAll("\\s+lr .*", "");
    }

    @Test
    void badOptionsAreRefusedWithTheValues() {
        CliRun r = CliRun.of("train", "--epochs", "0", "--lr", "-1", "--out", out.toString());
        assertEquals(2, r.exit());
        assertTrue(r.stderr().contains("--epochs must be >= 1, got 0") && r.stderr().contains("--lr"), r.stderr());
        CliRun missing = CliRun.of("train", "--data", out.resolve("nowhere").toString(), "--out", out.toString());
        assertEquals(1, missing.exit());
        assertTrue(missing.stderr().startsWith("grad4j train: MNIST file train-images-idx3-ubyte[.gz] not found"), missing.stderr());
        CliRun o = CliRun.of("train", "--optimizer", "adagrad", "--out", out.toString());
        assertEquals(2, o.exit());
        assertTrue(o.stderr().contains("adagrad"), o.stderr());
    }

    @Test
    void gradcheckAndInfoRun() {
        CliRun g = CliRun.of("gradcheck", "--hidden", "16", "--samples", "4", "--batch", "8");
        assertEquals(0, g.exit(), g.stdout() + g.stderr());
        assertTrue(g.stdout().contains("all gradients match"), g.stdout());
        CliRun i = CliRun.of("info");
        assertEquals(0, i.exit());
        assertTrue(i.stdout().contains("chosen:    cpu"), i.stdout());
    }
}
