package io.grad4j.examples;

import io.grad4j.Tensor;
import io.grad4j.checkpoint.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 23 on the command line: a trained checkpoint is never replaced without --overwrite, a
 * batch larger than the data trains (one batch) instead of nothing, a diverged run fails,
 * metrics.csv has each epoch once after a resume, damaged checkpoint metadata and FIFOs are
 * refused by name, and problems that used to surface after an epoch are found before training.
 */
class CliReliabilityTest {
    private static final Duration LIMIT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    private static CliRun run(List<String> args) {
        return assertTimeoutPreemptively(LIMIT, () -> CliRun.of(args), "grad4j " + args + " hung");
    }

    private List<String> train(String... args) {
        List<String> all = new ArrayList<>(List.of("train", "--no-progress", "--out", dir.resolve("out").toString()));
        all.addAll(List.of(args));
        return all;
    }

    private static void assertMentions(CliRun r, String... words) {
        for (String w : words) {
            assertTrue(r.stderr().contains(w), "stderr should mention '" + w + "': " + r.stderr());
        }
        assertFalse(r.stderr().contains("\tat ") || r.stderr().contains("Exception"), "a stack trace or raw exception: "
                + r.stderr());
    }

    /** The first reproduction: the second run used to replace the first run's model without a word. */
    @Test
    void anExistingCheckpointIsNotReplacedWithoutOverwrite() throws IOException {
        Path ck = dir.resolve("CK");
        CliRun first = run(train("--hidden", "8", "--batch", "512", "--epochs", "2", "--checkpoint-dir", ck.toString()));
        assertEquals(0, first.exit(), first.stderr());
        byte[] model = Files.readAllBytes(ck.resolve("model.safetensors"));

        CliRun second = run(train("--hidden", "4", "--batch", "256", "--epochs", "1", "--checkpoint-dir", ck.toString()));
        assertEquals(2, second.exit(), second.stderr());
        assertMentions(second, ck.toString(), "already holds a checkpoint", "epoch 2", "--resume", "new folder", "--overwrite");
        assertFalse(second.stdout().contains("epoch 1/"), "refused before training: " + second.stdout());
        assertArrayEquals(model, Files.readAllBytes(ck.resolve("model.safetensors")), "the trained model is untouched");

        CliRun both = run(train("--hidden", "8", "--batch", "512", "--epochs", "3", "--checkpoint-dir", ck.toString(),
                "--resume", "--overwrite"));
        assertEquals(2, both.exit(), both.stderr());
        assertMentions(both, "--overwrite and --resume");

        Files.writeString(ck.resolve("notes.txt"), "mine");
        CliRun divergedOverwrite = run(train("--hidden", "4", "--batch", "256", "--epochs", "1", "--lr", "1e30",
                "--momentum", "0", "--checkpoint-dir", ck.toString(), "--overwrite"));
        assertEquals(1, divergedOverwrite.exit(), divergedOverwrite.stdout() + divergedOverwrite.stderr());
        assertArrayEquals(model, Files.readAllBytes(ck.resolve("model.safetensors")),
                "an --overwrite run that fails before its first checkpoint has replaced nothing");

        CliRun overwritten = run(train("--hidden", "4", "--batch", "256", "--epochs", "1", "--checkpoint-dir", ck.toString(),
                "--overwrite"));
        assertEquals(0, overwritten.exit(), overwritten.stderr());
        Map<String, String> meta = Safetensors.header(ck.resolve("model.safetensors")).metadata();
        assertEquals("[4]", meta.get("hidden"));
        assertEquals("1", meta.get("epoch"));
        assertFalse(Files.exists(ck.resolve("optimizer.previous.safetensors")), "no file of the old run is left to mix in");
        assertEquals("mine", Files.readString(ck.resolve("notes.txt")), "--overwrite touches only grad4j's own files");
    }

    /** The fourth: --batch 2147483647 trained nothing and printed loss NaN with exit 0. */
    @Test
    void aBatchLargerThanTheDataTrainsOneBatchPerEpoch() {
        CliRun r = run(train("--hidden", "8", "--batch", "2147483647", "--epochs", "2", "--lr", "0.5"));
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.stdout().contains("note: --batch 2147483647 is larger than the"), r.stdout());
        assertFalse(r.stdout().contains("NaN"), r.stdout());
        String last = r.stdout().lines().filter(l -> l.startsWith("final:")).findFirst().orElseThrow();
        double loss = Double.parseDouble(last.replaceAll(".*train_loss=(\\S+).*", "$1"));
        assertTrue(loss > 0 && loss < 2.4, "a finite loss that moved from log(10) = 2.30: " + last);
    }

    /** A loss that becomes NaN or infinite ends the run with exit 1 and saves nothing of that epoch. */
    @Test
    void aDivergedRunFailsAndKeepsTheLastGoodCheckpoint() throws IOException {
        Path ck = dir.resolve("CK");
        CliRun r = run(train("--hidden", "8", "--batch", "64", "--epochs", "2", "--lr", "1e30", "--momentum", "0",
                "--checkpoint-dir", ck.toString()));
        assertEquals(1, r.exit(), r.stdout() + r.stderr());
        assertMentions(r, "the training loss became", "epoch 1", "Lower --lr (now 1.0E30)");
        assertFalse(Files.exists(ck.resolve("model.safetensors")), "no checkpoint of a diverged epoch");

        // a good epoch, then a resume that diverges: the good epoch's checkpoint stays as it was
        CliRun good = run(train("--hidden", "8", "--batch", "64", "--epochs", "1", "--momentum", "0",
                "--checkpoint-dir", ck.toString()));
        assertEquals(0, good.exit(), good.stderr());
        byte[] model = Files.readAllBytes(ck.resolve("model.safetensors"));
        CliRun diverged = run(train("--hidden", "8", "--batch", "64", "--epochs", "2", "--lr", "1e30", "--momentum", "0",
                "--checkpoint-dir", ck.toString(), "--resume"));
        assertEquals(1, diverged.exit(), diverged.stdout() + diverged.stderr());
        assertMentions(diverged, "epoch 2", ck.toString());
        assertArrayEquals(model, Files.readAllBytes(ck.resolve("model.safetensors")), "the last good checkpoint is kept");

        // resuming with another momentum cannot load SGD's state: said as a setting, before training
        CliRun otherMomentum = run(train("--hidden", "8", "--batch", "64", "--epochs", "2", "--momentum", "0.9",
                "--checkpoint-dir", ck.toString(), "--resume"));
        assertEquals(1, otherMomentum.exit(), otherMomentum.stdout() + otherMomentum.stderr());
        assertMentions(otherMomentum, "--momentum 0.0", "--momentum 0.9", "resume with the same settings");
    }

    /**
     * Resuming from a checkpoint older than metrics.csv (here: a copy of the folder after epoch 1,
     * with metrics of 3 epochs) used to write epoch 2's row twice and leave epoch 3's.
     */
    @Test
    void resumingFromAnOlderCheckpointDoesNotRepeatRowsOfMetrics() throws IOException {
        Path ck = dir.resolve("CK");
        Path older = dir.resolve("CK-epoch1");
        List<String> common = List.of("--hidden", "8", "--batch", "512", "--checkpoint-dir", ck.toString());
        CliRun first = run(concat(train("--epochs", "1"), common));
        assertEquals(0, first.exit(), first.stderr());
        copyFolder(ck, older);
        CliRun on = run(concat(train("--epochs", "3", "--resume"), common));
        assertEquals(0, on.exit(), on.stderr());
        Path csv = dir.resolve("out").resolve("metrics.csv");
        assertEquals(List.of("1", "2", "3"), epochsOf(csv));
        Files.writeString(csv, "3,0.5,0.9,0.9,0.05,1.0\n2,0.4", java.nio.file.StandardOpenOption.APPEND); // and a partial line
        deleteFolder(ck);
        copyFolder(older, ck);
        CliRun again = run(concat(train("--epochs", "2", "--resume"), common));
        assertEquals(0, again.exit(), again.stderr());
        assertEquals(List.of("1", "2"), epochsOf(csv), "each epoch once, none past the last one trained");
    }

    /** Damaged metadata is refused by file, key and value: no resume at epoch -2, no bare NumberFormatException or NPE. */
    @Test
    void damagedCheckpointMetadataIsRefusedByName() throws IOException {
        Path ck = dir.resolve("CK");
        List<String> common = List.of("--hidden", "8", "--batch", "512", "--checkpoint-dir", ck.toString());
        CliRun first = run(concat(train("--epochs", "1"), common));
        assertEquals(0, first.exit(), first.stderr());
        Path model = ck.resolve("model.safetensors");
        Map<String, String> original = Safetensors.header(model).metadata();
        String[][] damages = {{"epoch", "-3", "'epoch' is -3"}, {"epoch", "abc", "'epoch' is \"abc\", not a whole number"},
                {"epoch", null, "no 'epoch'"}, {"seed", null, "no 'seed' entry"}};
        for (String[] d : damages) {
            Map<String, String> meta = new LinkedHashMap<>(original);
            if (d[1] == null) {
                meta.remove(d[0]);
            } else {
                meta.put(d[0], d[1]);
            }
            rewriteMetadata(model, meta);
            CliRun r = run(concat(train("--epochs", "3", "--resume"), common));
            assertEquals(1, r.exit(), d[0] + "=" + d[1] + ": " + r.stdout() + r.stderr());
            assertMentions(r, model.toString(), d[2]);
            assertFalse(r.stderr().contains("For input string") || r.stderr().contains("Cannot invoke"), r.stderr());
        }
    }

    /**
     * Two trainings writing one checkpoint folder renamed each other's files in and out of place;
     * the second is refused while the first holds the folder's lock, and the lock goes with the run.
     */
    @Test
    void aCheckpointFolderInUseByAnotherRunIsRefused() throws IOException {
        Path ck = dir.resolve("CK");
        List<String> common = List.of("--hidden", "8", "--batch", "512", "--checkpoint-dir", ck.toString());
        CliRun first = run(concat(train("--epochs", "1"), common));
        assertEquals(0, first.exit(), first.stderr());
        byte[] model = Files.readAllBytes(ck.resolve("model.safetensors"));
        try (CheckpointLock held = CheckpointLock.acquire(ck)) { // another run, as this JVM sees it
            CliRun second = run(concat(train("--epochs", "2", "--resume"), common));
            assertEquals(1, second.exit(), second.stderr());
            assertMentions(second, ck.toString(), "in use by another grad4j train", CheckpointLock.FILE);
            assertFalse(second.stdout().contains("epoch 2/"), second.stdout());
        }
        assertArrayEquals(model, Files.readAllBytes(ck.resolve("model.safetensors")));
        CliRun after = run(concat(train("--epochs", "2", "--resume"), common));
        assertEquals(0, after.exit(), "the first run's lock went with it: " + after.stderr());
        Path nowhere = dir.resolve("nowhere");
        CliRun missing = run(train("--epochs", "2", "--resume", "--checkpoint-dir", nowhere.toString()));
        assertEquals(1, missing.exit(), missing.stderr());
        assertMentions(missing, "no checkpoint in " + nowhere.toAbsolutePath(), "does not exist");
        assertFalse(Files.exists(nowhere), "taking the lock must not create the folder of a failed --resume");
    }

    /** A FIFO in place of the checkpoint used to hang --resume for ever. */
    @Test
    void aFifoInPlaceOfTheCheckpointIsRefusedByPath() throws Exception {
        Path ck = Files.createDirectories(dir.resolve("CK"));
        Path fifo = ck.resolve("model.safetensors");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor(), "mkfifo");
        Files.writeString(ck.resolve("optimizer.safetensors"), "x");
        CliRun r = run(train("--epochs", "2", "--resume", "--checkpoint-dir", ck.toString()));
        assertEquals(1, r.exit(), r.stderr());
        assertMentions(r, fifo.toString(), "not a regular file");
    }

    /** A FIFO in place of the lock file would block the lock's open for ever. */
    @Test
    void aFifoInPlaceOfTheLockFileIsRefused() throws Exception {
        Path ck = Files.createDirectories(dir.resolve("CKLOCK"));
        Path fifo = ck.resolve(".grad4j.lock");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor(), "mkfifo");
        CliRun r = run(train("--epochs", "1", "--checkpoint-dir", ck.toString()));
        assertEquals(1, r.exit(), r.stderr());
        assertMentions(r, ck.toString(), ".grad4j.lock", "not a regular file");
    }

    /**
     * Problems that used to surface only when the first epoch ended (writing the checkpoint or the
     * metrics, evaluating on the test set) are found before training: nothing is trained.
     */
    @Test
    void problemsThatSurfacedAfterAnEpochAreFoundBeforeTraining() throws Exception {
        Path ck = dir.resolve("CK");
        Files.createDirectories(ck.resolve("model.safetensors")); // occupied by a folder of that name
        CliRun occupied = run(train("--epochs", "1", "--checkpoint-dir", ck.toString(), "--overwrite"));
        assertEquals(1, occupied.exit(), occupied.stderr());
        assertMentions(occupied, ck.resolve("model.safetensors").toString(), "is a directory");
        assertFalse(occupied.stdout().contains("epoch 1/"), occupied.stdout());

        Path out = Files.createDirectories(dir.resolve("out2"));
        Files.createDirectories(out.resolve("metrics.csv"));
        CliRun metrics = run(List.of("train", "--no-progress", "--epochs", "1", "--out", out.toString()));
        assertEquals(1, metrics.exit(), metrics.stderr());
        assertMentions(metrics, out.resolve("metrics.csv").toString(), "is a directory");
        assertFalse(metrics.stdout().contains("epoch 1/"), metrics.stdout());

        Path out3 = Files.createDirectories(dir.resolve("out3"));
        Path fifo = out3.resolve("metrics.csv");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor(), "mkfifo");
        CliRun blocked = run(List.of("train", "--no-progress", "--epochs", "1", "--out", out3.toString())); // hung in open before
        assertEquals(1, blocked.exit(), blocked.stderr());
        assertMentions(blocked, fifo.toString(), "not a regular file");

        Path data = Files.createDirectories(dir.resolve("data"));
        idx(data.resolve("train-images-idx3-ubyte"), 2051, new int[] {4, 2, 2}, new byte[16]);
        idx(data.resolve("train-labels-idx1-ubyte"), 2049, new int[] {4}, new byte[] {1, 2, 3, 4});
        idx(data.resolve("t10k-images-idx3-ubyte"), 2051, new int[] {0, 2, 2}, new byte[0]);
        idx(data.resolve("t10k-labels-idx1-ubyte"), 2049, new int[] {0}, new byte[0]);
        CliRun emptyTest = run(train("--epochs", "1", "--data", data.toString()));
        assertEquals(1, emptyTest.exit(), emptyTest.stderr());
        assertMentions(emptyTest, "--data " + data, "test set is empty");
        assertFalse(emptyTest.stdout().contains("epoch 1/"), emptyTest.stdout());

        idx(data.resolve("t10k-images-idx3-ubyte"), 2051, new int[] {1, 3, 3}, new byte[9]);
        idx(data.resolve("t10k-labels-idx1-ubyte"), 2049, new int[] {1}, new byte[] {1});
        CliRun otherSize = run(train("--epochs", "1", "--data", data.toString()));
        assertEquals(1, otherSize.exit(), otherSize.stderr());
        assertMentions(otherSize, "test images have 9 pixels but the training images 4");
        assertFalse(Files.exists(dir.resolve("out")), "--out was not created");
    }

    /** picocli's conversion errors name the option and the value; no bare "For input string". */
    @Test
    void numbersThatAreNotNumbersAreRefusedWithTheOption() {
        for (String[] option : new String[][] {{"--epochs", "abc"}, {"--batch", "1e3"}, {"--seed", "abc"}, {"--lr", "fast"},
                {"--hidden", "8,abc"}, {"--batch", "99999999999"}}) {
            CliRun r = run(train(option));
            assertEquals(2, r.exit(), Arrays.toString(option) + ": " + r.stderr());
            assertMentions(r, option[0], "'" + option[1].replace("8,", "") + "'");
            assertFalse(r.stderr().contains("For input string"), r.stderr());
        }
    }

    /** An empty path is the current folder: a run wrote its metrics (and would write a checkpoint) there by accident. */
    @Test
    void emptyPathsAreRefused() {
        for (String option : List.of("--out", "--checkpoint-dir", "--data")) {
            CliRun r = run(List.of("train", "--no-progress", "--epochs", "1", option, ""));
            assertEquals(2, r.exit(), option + ": " + r.stdout() + r.stderr());
            assertMentions(r, option + " is an empty path");
        }
    }

    /** A NullPointerException's own text describes grad4j's code, not the input: it is reported as a bug. */
    @Test
    void aNullPointerExceptionIsReportedAsABugNotAsItsText() {
        String line = Grad4jCli.describe(new NullPointerException("Cannot invoke \"String.equals(Object)\" because the"
                + " return value of \"java.util.Map.get(Object)\" is null"));
        assertFalse(line.contains("Cannot invoke"), line);
        assertTrue(line.contains("internal error (NullPointerException)") && line.contains("GRAD4J_DEBUG=1"), line);
        assertEquals("--batch must be >= 1", Grad4jCli.describe(new IllegalArgumentException("--batch must be >= 1")));
    }

    /** A metrics row cut short (a kill mid-write) made the plot fail whole, printing "For input string: ...". */
    @Test
    void thePlotSkipsAMalformedLineInsteadOfTheWholePlot() throws IOException {
        Path csv = dir.resolve("metrics.csv");
        Files.writeString(csv, "epoch,train_loss,train_accuracy,test_accuracy,learning_rate,seconds\n"
                + "1,0.5,0.8,0.8,0.05,1.0\n2,0.4,0.9,0.9,0.05,1.0\n3,0.3");
        Path png = dir.resolve("metrics.png");
        PrintStream saved = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (PrintStream capture = new PrintStream(printed, true)) {
            System.setOut(capture);
            Plot.write(png, csv);
        } finally {
            System.setOut(saved);
        }
        assertTrue(Files.exists(png) && Files.size(png) > 1000, printed.toString());
        assertTrue(printed.toString().contains("skipped 1 malformed line(s)"), printed.toString());
        assertFalse(printed.toString().contains("For input string"), printed.toString());
    }

    // ---------------------------------------------------------------- helpers

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private static List<String> epochsOf(Path csv) throws IOException {
        return Files.readAllLines(csv).stream().skip(1).map(l -> l.split(",")[0]).toList();
    }

    private static void rewriteMetadata(Path model, Map<String, String> meta) throws IOException {
        try (Safetensors.Loaded loaded = Safetensors.load(model)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>(loaded.tensors());
            Safetensors.save(model, tensors, meta);
        }
    }

    private static void idx(Path file, int magic, int[] dims, byte[] payload) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(magic);
            for (int d : dims) {
                out.writeInt(d);
            }
            out.write(payload);
        }
        Files.write(file, bytes.toByteArray());
    }

    private static void copyFolder(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path f : s.toList()) {
                Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    private static void deleteFolder(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }
}
