package io.grad4j.examples;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command line's half of the bad-input table (core's is BadInputConformanceTest): every
 * option out of range, every unusable file or folder, as one list. Each row gives the arguments,
 * the exit code (2: picocli's usage error, 1: a failure while running) and the words the one-line
 * error must contain; no row may print a stack trace, hang, or leave files in --out or
 * --checkpoint-dir. Backend names are tried in a child JVM, since the backend is chosen once per JVM.
 */
class CliBadInputTest {
    private static final Duration ROW_LIMIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private record Row(String name, List<String> args, int exit, List<String> mentions) {
    }

    private static Row row(String name, int exit, List<String> args, String... mentions) {
        return new Row(name, args, exit, List.of(mentions));
    }

    @TestFactory
    Stream<DynamicTest> everyBadOptionIsRefusedWithTheValue() throws Exception {
        Path out = dir.resolve("out");
        Path ckpt = dir.resolve("ckpt");
        Path emptyCkpt = Files.createDirectories(dir.resolve("empty-ckpt"));
        Path aFile = Files.writeString(dir.resolve("a-file"), "not a folder");
        Path corruptCkpt = Files.createDirectories(dir.resolve("corrupt-ckpt"));
        Files.write(corruptCkpt.resolve("model.safetensors"), new byte[] {1, 2, 3});
        Files.write(corruptCkpt.resolve("optimizer.safetensors"), new byte[] {1, 2, 3});
        Path badData = Files.createDirectories(dir.resolve("bad-data"));
        for (String n : List.of("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")) {
            Files.write(badData.resolve(n), new byte[] {0, 0, 0, 7, 0, 0, 0, 1});
        }
        for (String n : List.of("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            try (DataOutputStream d = new DataOutputStream(b)) {
                d.writeInt(2049);
                d.writeInt(1);
                d.write(1);
            }
            Files.write(badData.resolve(n), b.toByteArray());
        }
        // a real checkpoint after one epoch of a tiny model, to resume wrongly from
        CliRun made = CliRun.of(train(out, "--hidden", "8", "--batch", "512", "--epochs", "1", "--checkpoint-dir", ckpt.toString()));
        assertEquals(0, made.exit(), made.stderr());
        deleteTree(out);

        List<Row> t = new ArrayList<>();
        t.add(row("--epochs 0", 2, train(out, "--epochs", "0"), "--epochs must be >= 1, got 0"));
        t.add(row("--epochs -5", 2, train(out, "--epochs", "-5"), "--epochs must be >= 1, got -5"));
        t.add(row("--epochs abc", 2, train(out, "--epochs", "abc"), "--epochs", "'abc'", "int"));
        t.add(row("--batch 0", 2, train(out, "--batch", "0"), "--batch must be >= 1, got 0"));
        t.add(row("--lr 0", 2, train(out, "--lr", "0"), "--lr must be a positive number, got 0.0"));
        t.add(row("--lr NaN", 2, train(out, "--lr", "NaN"), "--lr", "got NaN"));
        t.add(row("--lr Infinity", 2, train(out, "--lr", "Infinity"), "--lr", "got Infinity"));
        t.add(row("--momentum 1", 2, train(out, "--momentum", "1"), "--momentum must be in [0, 1), got 1.0"));
        t.add(row("--momentum -0.1", 2, train(out, "--momentum", "-0.1"), "--momentum", "got -0.1"));
        t.add(row("--weight-decay -1", 2, train(out, "--weight-decay", "-1"), "--weight-decay must be >= 0, got -1.0"));
        t.add(row("--dropout 1", 2, train(out, "--dropout", "1"), "--dropout must be in [0, 1), got 1.0"));
        t.add(row("--hidden 0", 2, train(out, "--hidden", "0"), "--hidden sizes must be >= 1, got 0"));
        t.add(row("--hidden 32,-4", 2, train(out, "--hidden", "32,-4"), "--hidden sizes must be >= 1, got -4"));
        t.add(row("--hidden x", 2, train(out, "--hidden", "x"), "--hidden", "'x'"));
        t.add(row("--optimizer adagrad", 2, train(out, "--optimizer", "adagrad"), "--optimizer must be sgd, adam or adamw, got 'adagrad'"));
        t.add(row("--schedule linear", 2, train(out, "--schedule", "linear"), "--schedule must be none, step or cosine, got 'linear'"));
        t.add(row("--step-size 0", 2, train(out, "--step-size", "0"), "--step-size must be >= 1, got 0"));
        t.add(row("--gamma 0", 2, train(out, "--gamma", "0"), "--gamma must be in (0, 1], got 0.0"));
        t.add(row("--gamma 1.5", 2, train(out, "--gamma", "1.5"), "--gamma", "got 1.5"));
        t.add(row("--nesterov with --momentum 0", 2, train(out, "--nesterov", "--momentum", "0"), "--nesterov", "--momentum > 0"));
        t.add(row("--cuda-graph with adam", 2, train(out, "--cuda-graph", "--optimizer", "adam"),
                "--cuda-graph needs --optimizer sgd", "adam"));
        t.add(row("--cuda-graph with dropout", 2, train(out, "--cuda-graph", "--dropout", "0.2"),
                "--cuda-graph cannot record --dropout 0.2"));
        t.add(row("--cuda-graph on cpu", 2, train(out, "--cuda-graph", "--backend", "cpu"),
                "--cuda-graph needs the cuda backend, got cpu"));
        t.add(row("--profile-kernels on cpu", 2, train(out, "--profile-kernels", "--backend", "cpu"),
                "--profile-kernels needs the cuda backend, got cpu"));
        t.add(row("--profile-kernels with --cuda-graph", 2, train(out, "--profile-kernels", "--cuda-graph"),
                "--profile-kernels times eager launches", "profile without --cuda-graph"));
        t.add(row("several at once, all named", 2, train(out, "--epochs", "0", "--batch", "-1", "--lr", "-2"),
                "--epochs must be >= 1, got 0", "--batch must be >= 1, got -1", "--lr must be a positive number, got -2.0"));
        t.add(row("unknown option", 2, train(out, "--learning-rate", "0.1"), "Unknown option", "--learning-rate"));
        t.add(row("--resume without --checkpoint-dir", 2, train(out, "--resume"), "--resume needs --checkpoint-dir"));
        t.add(row("--resume from an empty folder", 1, train(out, "--resume", "--checkpoint-dir", emptyCkpt.toString()),
                "no checkpoint in", emptyCkpt.toString(), "model.safetensors"));
        t.add(row("--resume from a corrupt checkpoint", 1, train(out, "--resume", "--checkpoint-dir", corruptCkpt.toString()),
                corruptCkpt.resolve("model.safetensors").toString(), "3 bytes"));
        t.add(row("--resume with other --hidden", 1, train(out, "--resume", "--hidden", "16", "--batch", "512",
                "--checkpoint-dir", ckpt.toString()), "hidden=[8]", "hidden=[16]"));
        t.add(row("--resume a finished run", 1, train(out, "--resume", "--hidden", "8", "--batch", "512", "--epochs", "1",
                "--checkpoint-dir", ckpt.toString()), "already finished epoch 1", "--epochs 1"));
        t.add(row("--checkpoint-dir is a file", 2, train(out, "--checkpoint-dir", aFile.toString()),
                "--checkpoint-dir", aFile.toString(), "not a folder"));
        t.add(row("--out is a file", 2, train(aFile, "--epochs", "1"), "--out", aFile.toString(), "not a folder"));
        t.add(row("--data folder does not exist", 1, train(out, "--data", dir.resolve("nowhere").toString()),
                "train-images-idx3-ubyte", "not found", dir.resolve("nowhere").toString()));
        t.add(row("--data with a corrupt IDX file", 1, train(out, "--data", badData.toString()),
                badData.resolve("train-images-idx3-ubyte").toString(), "magic 7", "2051"));
        t.add(row("gradcheck --samples 0", 1, List.of("gradcheck", "--samples", "0"), "--samples", "got 0"));
        t.add(row("gradcheck --hidden 0", 1, List.of("gradcheck", "--hidden", "0", "--samples", "1"), "--hidden sizes must be >= 1, got 0"));
        t.add(row("unknown command", 2, List.of("fit"), "Unmatched argument", "'fit'"));

        List<DynamicTest> tests = new ArrayList<>();
        for (Row r : t) {
            tests.add(DynamicTest.dynamicTest(r.name(), () -> check(r, out, ckpt)));
        }
        tests.add(DynamicTest.dynamicTest("--backend tpu (child JVM)", () -> childBackend(List.of("--backend", "tpu"), null)));
        tests.add(DynamicTest.dynamicTest("GRAD4J_BACKEND=tpu (child JVM)", () -> childBackend(List.of(), "tpu")));
        System.out.println("[bad-input] cli: " + tests.size() + " cases");
        return tests.stream();
    }

    private void check(Row r, Path out, Path ckpt) throws IOException {
        List<String> ckptBefore = listing(ckpt);
        CliRun run = assertTimeoutPreemptively(ROW_LIMIT, () -> CliRun.of(r.args()), r.name() + " hung");
        String err = run.stderr();
        System.out.println("[bad-input] " + r.name() + " -> exit " + run.exit() + ": " + err.lines().findFirst().orElse(""));
        assertEquals(r.exit(), run.exit(), r.name() + ": exit code; stderr: " + err);
        for (String m : r.mentions()) {
            assertTrue(err.contains(m), r.name() + ": stderr should mention '" + m + "': " + err);
        }
        assertFalse(err.contains("\tat ") || err.contains("Exception in thread"), r.name() + ": printed a stack trace: " + err);
        assertFalse(Files.exists(out), r.name() + ": --out was created");
        assertEquals(ckptBefore, listing(ckpt), r.name() + ": the checkpoint folder changed");
    }

    /** A backend name is read once per JVM, so these run `grad4j train` in a fresh one. */
    private void childBackend(List<String> extra, String env) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-XX:TieredStopAtLevel=1", "-cp", cp,
                "io.grad4j.examples.Grad4jCli", "train", "--no-progress", "--out", dir.resolve("child-out").toString()));
        cmd.addAll(extra);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("GRAD4J_BACKEND");
        if (env != null) {
            pb.environment().put("GRAD4J_BACKEND", env);
        }
        Process p = pb.start();
        String output;
        try {
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "grad4j train with backend tpu hung");
            output = new String(p.getInputStream().readAllBytes());
        } finally {
            p.destroyForcibly();
        }
        System.out.println("[bad-input] backend tpu " + (env != null ? "(GRAD4J_BACKEND)" : "(--backend)") + " -> exit "
                + p.exitValue() + ": " + output.strip());
        assertEquals(1, p.exitValue(), output);
        assertTrue(output.contains("unknown backend 'tpu'") && output.contains("installed backends"), output);
        assertFalse(output.contains("\tat "), "stack trace: " + output);
        assertFalse(Files.exists(dir.resolve("child-out")), "--out was created");
    }

    private static List<String> train(Path out, String... args) {
        List<String> all = new ArrayList<>(List.of("train", "--no-progress", "--out", out.toString()));
        all.addAll(List.of(args));
        return all;
    }


    private static List<String> listing(Path d) throws IOException {
        if (!Files.exists(d)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName() + " " + p.toFile().length() + " " + p.toFile().lastModified()).sorted().toList();
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (Files.exists(p)) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(f);
                }
            }
        }
    }
}
