package io.grad4j.examples;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.checkpoint.Checkpoint;
import io.grad4j.checkpoint.Safetensors;
import io.grad4j.models.GPT;
import io.grad4j.models.GPTConfig;
import io.grad4j.optim.AdamW;
import io.grad4j.optim.Optimizers;
import io.grad4j.optim.ParamGroup;
import io.grad4j.optim.WarmupCosineLR;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/** {@code grad4j gpt}: a character-level GPT on tiny-shakespeare, as nanoGPT's shakespeare-char. */
@Command(name = "gpt", description = "A character-level GPT (nanoGPT's shakespeare-char): download, train, sample.",
        subcommands = {GptCommand.Download.class, GptCommand.Train.class, GptCommand.Sample.class})
final class GptCommand implements Runnable {
    static final String URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt";
    static final String SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed";
    static final String MODEL_FILE = "gpt.safetensors";
    static final String OPTIMIZER_FILE = "gpt-optimizer.safetensors";

    @Override
    public void run() {
        System.out.println("grad4j gpt download | train | sample (--help on each)");
    }

    /** Where `gpt download` puts the text: $XDG_CACHE_HOME/grad4j, else ~/.cache/grad4j. */
    static Path defaultCache() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("grad4j").resolve("tinyshakespeare");
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                d.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Command(name = "download", description = "Fetch tiny-shakespeare (1.1 MB) into a cache folder, checking its sha256.")
    static final class Download implements Callable<Integer> {
        @Option(names = "--cache", description = "folder for input.txt (default $XDG_CACHE_HOME/grad4j/tinyshakespeare or ~/.cache/...)")
        Path cache;

        @Option(names = "--url", hidden = true, description = "another source (tests)")
        String url = URL;

        @Override
        public Integer call() throws IOException, InterruptedException {
            Path dir = cache != null ? cache : defaultCache();
            Path target = dir.resolve("input.txt");
            if (Files.isRegularFile(target) && SHA256.equals(sha256(target))) {
                System.out.println("already there: " + target + " (sha256 " + SHA256 + ")");
                return 0;
            }
            Files.createDirectories(dir);
            Path partial = dir.resolve("input.txt.part");
            try {
                URI uri = URI.create(url);
                if ("file".equals(uri.getScheme())) {
                    Files.copy(Path.of(uri), partial, StandardCopyOption.REPLACE_EXISTING);
                } else {
                    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20))
                            .followRedirects(HttpClient.Redirect.NORMAL).build();
                    HttpResponse<Path> r = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(2)).build(),
                            HttpResponse.BodyHandlers.ofFile(partial));
                    if (r.statusCode() != 200) {
                        throw new IOException("HTTP " + r.statusCode() + " from " + url);
                    }
                }
            } catch (IOException e) {
                Files.deleteIfExists(partial);
                throw new IOException("gpt download: could not fetch " + url + " (" + e.getMessage() + "). Offline? Copy"
                        + " the file there by hand, or pass --data FILE to gpt train.", e);
            }
            String got = sha256(partial);
            if (!SHA256.equals(got)) {
                Files.deleteIfExists(partial);
                throw new IOException("gpt download: " + url + " has sha256 " + got + ", not tiny-shakespeare's " + SHA256
                        + "; nothing was kept");
            }
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            System.out.println("wrote " + target + " (" + Files.size(target) + " bytes, sha256 " + SHA256 + ")");
            return 0;
        }
    }

    @Command(name = "train", description = "Train a GPT on a text, nanoGPT's shakespeare-char settings by default.")
    static final class Train implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--layers", defaultValue = "6") int layers;
        @Option(names = "--heads", defaultValue = "6") int heads;
        @Option(names = "--width", defaultValue = "384") int width;
        @Option(names = "--context", defaultValue = "256") int context;
        @Option(names = "--batch", defaultValue = "64") int batch;
        @Option(names = "--steps", defaultValue = "5000") int steps;
        @Option(names = "--dropout", defaultValue = "0.2") double dropout;
        @Option(names = "--bias", description = "biases in Linear and LayerNorm layers (nanoGPT's default is none)") boolean bias;
        @Option(names = "--lr", defaultValue = "1e-3") double lr;
        @Option(names = "--min-lr", defaultValue = "1e-4") double minLr;
        @Option(names = "--warmup", defaultValue = "100") int warmup;
        @Option(names = "--weight-decay", defaultValue = "0.1", description = "on 2-D parameters only") double weightDecay;
        @Option(names = "--grad-clip", defaultValue = "1.0") double gradClip;
        @Option(names = "--eval-every", defaultValue = "250") int evalEvery;
        @Option(names = "--eval-batches", defaultValue = "200") int evalBatches;
        @Option(names = "--data", description = "the text (default: the cache `gpt download` fills)") Path data;
        @Option(names = "--backend", description = "cpu, cuda or auto") String backend;
        @Option(names = "--seed", defaultValue = "1337") long seed;
        @Option(names = "--out", defaultValue = "runs/gpt", description = "metrics.csv and loss.png (default ${DEFAULT-VALUE})") Path out;
        @Option(names = "--checkpoint-dir", description = "save the model whenever the validation loss improves, and the"
                + " optimizer with it") Path checkpointDir;
        @Option(names = "--resume", description = "continue from the checkpoint in --checkpoint-dir") boolean resume;
        @Option(names = "--no-progress", description = "no progress bar (also off without a terminal)") boolean noProgress;
        @Option(names = "--stop-at", hidden = true, description = "end this run after that step's evaluation, the schedule"
                + " still spanning --steps, as an interrupted run would (tests of --resume)") int stopAt;

        @Override
        public Integer call() throws IOException {
            List<String> problems = new ArrayList<>();
            if (layers < 1 || heads < 1 || width < 1 || context < 1 || batch < 1 || steps < 1) {
                problems.add("--layers, --heads, --width, --context, --batch and --steps must be >= 1");
            }
            if (heads >= 1 && width % heads != 0) problems.add("--width " + width + " must be a multiple of --heads " + heads);
            if (!(dropout >= 0 && dropout < 1)) problems.add("--dropout must be in [0, 1), got " + dropout);
            if (!(lr > 0) || !(minLr >= 0) || minLr > lr) problems.add("need 0 <= --min-lr <= --lr and --lr > 0");
            if (warmup < 0 || warmup >= steps) problems.add("--warmup must be in [0, --steps), got " + warmup);
            if (evalEvery < 1 || evalBatches < 1) problems.add("--eval-every and --eval-batches must be >= 1");
            if (!(weightDecay >= 0) || !(gradClip > 0)) problems.add("--weight-decay must be >= 0 and --grad-clip > 0");
            if (resume && checkpointDir == null) problems.add("--resume needs --checkpoint-dir");
            if (!problems.isEmpty()) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), String.join("; ", problems));
            }
            Path text = data != null ? data : defaultCache().resolve("input.txt");
            if (!Files.isRegularFile(text)) {
                throw new IllegalArgumentException("gpt train: no text at " + text + (data == null
                        ? "; run `grad4j gpt download` first, or pass --data FILE" : ""));
            }
            Grad4jCli.selectBackend(backend);
            Backend device = Backends.current();
            CharText corpus = CharText.read(text);
            GPTConfig config = new GPTConfig(corpus.vocabSize(), context, layers, heads, width, dropout, bias);
            GPT gpt = new GPT(config, seed);
            List<Tensor> parameters = gpt.parameters(); // walked once, not per step
            List<Tensor> decay = new ArrayList<>();
            List<Tensor> noDecay = new ArrayList<>();
            for (Tensor p : parameters) {
                (p.rank() >= 2 ? decay : noDecay).add(p);
            }
            AdamW opt = new AdamW(List.of(new ParamGroup(decay, weightDecay), new ParamGroup(noDecay, 0.0)), lr, 0.9, 0.99,
                    1e-8);
            WarmupCosineLR schedule = new WarmupCosineLR(lr, warmup, steps, minLr);
            int first = 0;
            double best = Double.POSITIVE_INFINITY;
            if (resume) {
                Map<String, String> meta = Safetensors.header(checkpointDir.resolve(MODEL_FILE)).metadata();
                if (!describe(config).equals(meta.get("config"))) {
                    throw new IllegalArgumentException("--resume: the checkpoint is " + meta.get("config") + " but this run"
                            + " is " + describe(config) + "; resume with the same sizes");
                }
                Checkpoint.loadInto(checkpointDir.resolve(MODEL_FILE), gpt.stateDict());
                try (Safetensors.Loaded state = Safetensors.load(checkpointDir.resolve(OPTIMIZER_FILE))) {
                    opt.loadState(state.tensors());
                }
                first = Integer.parseInt(meta.get("step"));
                best = Double.parseDouble(meta.get("best_val_loss"));
                System.out.println("resumed from " + checkpointDir.resolve(MODEL_FILE) + " at step " + first);
            }
            System.out.printf(Locale.ROOT, "training GPT (%s, %d parameters) on %s: %s, %d train / %d val characters,"
                            + " batch %d, %d steps%n", describe(config), count(gpt), device.name(), text, corpus.train.length,
                    corpus.val.length, batch, steps);
            Files.createDirectories(out);
            List<double[]> curve = new ArrayList<>();
            long start = System.nanoTime();
            try (PrintWriter csv = new PrintWriter(Files.newBufferedWriter(out.resolve("metrics.csv")));
                 ProgressBar bar = noProgress || !TrainCommand.outputIsTerminal() ? null
                         : new ProgressBarBuilder().setTaskName("gpt").setInitialMax(steps)
                         .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).continuousUpdate()
                         .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.out)).build()) {
                csv.println("step,train_loss,val_loss,learning_rate,seconds");
                if (bar != null) {
                    bar.stepTo(first);
                }
                for (int step = first; step <= steps; step++) {
                    if (step % evalEvery == 0 || step == steps) {
                        double[] losses = evaluate(gpt, corpus, step);
                        double seconds = (System.nanoTime() - start) / 1e9;
                        System.out.printf(Locale.ROOT, "step %d: train loss %.4f, val loss %.4f, lr %.3g, %.1fs%n", step,
                                losses[0], losses[1], schedule.lr(Math.min(step, steps)), seconds);
                        csv.printf(Locale.ROOT, "%d,%.6f,%.6f,%.6g,%.2f%n", step, losses[0], losses[1],
                                schedule.lr(Math.min(step, steps)), seconds);
                        csv.flush();
                        curve.add(new double[] {step, losses[0], losses[1]});
                        if (losses[1] < best) {
                            best = losses[1];
                            if (checkpointDir != null && step > first) {
                                save(gpt, opt, config, corpus, step, best);
                            }
                        }
                    }
                    if (step == steps || (stopAt > 0 && step >= stopAt)) {
                        break;
                    }
                    opt.setLearningRate(schedule.lr(step));
                    try (TensorScope scope = TensorScope.open()) {
                        Tensor[] xy = CharText.batch(corpus.train, batch, context, new SplittableRandom(seed * 0x9E3779B97F4A7C15L + step));
                        opt.zeroGrad();
                        Tensor loss = gpt.loss(xy[0], xy[1]);
                        loss.backward();
                        Optimizers.clipGradNorm(parameters, gradClip);
                        opt.step();
                        if (bar != null) {
                            bar.step();
                            bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f", loss.item()));
                        }
                    }
                }
            }
            Plot.writeCurves(out.resolve("loss.png"), "grad4j gpt train", "step", List.of("train loss", "val loss"), curve);
            double total = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT, "final: steps=%d best_val_loss=%.4f seconds=%.1f backend=%s%n", steps, best, total,
                    device.name());
            return 0;
        }

        /** Mean loss over eval batches of each split, in evaluation mode, from fixed draws (the same every evaluation). */
        private double[] evaluate(GPT gpt, CharText corpus, int step) {
            gpt.eval();
            double[] means = new double[2];
            try (NoGrad ignored = Autograd.noGrad()) {
                int[][] splits = {corpus.train, corpus.val};
                for (int s = 0; s < 2; s++) {
                    SplittableRandom random = new SplittableRandom(seed + 31L * (s + 1));
                    double sum = 0;
                    for (int i = 0; i < evalBatches; i++) {
                        try (TensorScope scope = TensorScope.open()) {
                            Tensor[] xy = CharText.batch(splits[s], batch, context, random);
                            sum += gpt.loss(xy[0], xy[1]).item();
                        }
                    }
                    means[s] = sum / evalBatches;
                }
            } finally {
                gpt.train(true);
            }
            return means;
        }

        private void save(GPT gpt, AdamW opt, GPTConfig config, CharText corpus, int step, double best) throws IOException {
            Files.createDirectories(checkpointDir);
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("step", Integer.toString(step));
            meta.put("best_val_loss", Double.toString(best));
            meta.put("config", describe(config));
            meta.put("vocabulary", corpus.vocabulary);
            try (TensorScope scope = TensorScope.open()) {
                Safetensors.save(checkpointDir.resolve(OPTIMIZER_FILE), opt.state(), meta);
            }
            Checkpoint.save(checkpointDir.resolve(MODEL_FILE), new LinkedHashMap<>(gpt.stateDict()), meta);
        }

        private static long count(GPT gpt) {
            long n = 0;
            for (Tensor p : gpt.parameters()) {
                n += p.numel();
            }
            return n;
        }
    }

    static String describe(GPTConfig c) {
        return "vocab=" + c.vocab() + ";context=" + c.context() + ";layers=" + c.layers() + ";heads=" + c.heads() + ";width="
                + c.width() + ";dropout=" + c.dropout() + ";bias=" + c.bias();
    }

    static GPTConfig parse(String s) {
        Map<String, String> kv = new LinkedHashMap<>();
        for (String part : s.split(";")) {
            int eq = part.indexOf('=');
            kv.put(part.substring(0, eq), part.substring(eq + 1));
        }
        return new GPTConfig(Integer.parseInt(kv.get("vocab")), Integer.parseInt(kv.get("context")),
                Integer.parseInt(kv.get("layers")), Integer.parseInt(kv.get("heads")), Integer.parseInt(kv.get("width")),
                Double.parseDouble(kv.get("dropout")), Boolean.parseBoolean(kv.get("bias")));
    }

    @Command(name = "sample", description = "Print text a trained GPT generates from a checkpoint.")
    static final class Sample implements Callable<Integer> {
        @Option(names = "--checkpoint-dir", required = true) Path checkpointDir;
        @Option(names = "--prompt", defaultValue = "\n", description = "text to continue (default a newline)") String prompt;
        @Option(names = "--tokens", defaultValue = "500") int tokens;
        @Option(names = "--temperature", defaultValue = "0.8") double temperature;
        @Option(names = "--top-k", defaultValue = "200") int topK;
        @Option(names = "--seed", defaultValue = "1337") long seed;
        @Option(names = "--backend", description = "cpu, cuda or auto") String backend;

        @Override
        public Integer call() throws IOException {
            Path file = checkpointDir.resolve(MODEL_FILE);
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("gpt sample: no " + MODEL_FILE + " in " + checkpointDir
                        + " (train with --checkpoint-dir first)");
            }
            Grad4jCli.selectBackend(backend);
            Map<String, String> meta = Safetensors.header(file).metadata();
            GPTConfig config = parse(meta.get("config"));
            String vocabulary = meta.get("vocabulary");
            GPT gpt = new GPT(config, 0);
            Checkpoint.loadInto(file, gpt.stateDict());
            int[] codes = CharText.encode(prompt, vocabulary);
            long[] start = new long[codes.length];
            for (int i = 0; i < codes.length; i++) {
                start[i] = codes[i];
            }
            long[] out = gpt.generate(Tensor.of(start, 1, start.length), tokens, temperature, topK, seed).toLongArray();
            System.out.println(CharText.decode(out, vocabulary));
            return 0;
        }
    }
}
