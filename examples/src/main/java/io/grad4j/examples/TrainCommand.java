package io.grad4j.examples;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.checkpoint.Checkpoint;
import io.grad4j.checkpoint.CheckpointMetadataException;
import io.grad4j.checkpoint.TrainingState;
import io.grad4j.cuda.CudaBackend;
import io.grad4j.cuda.DeviceActivity;
import io.grad4j.checkpoint.Safetensors;
import io.grad4j.data.Batch;
import io.grad4j.data.DataLoader;
import io.grad4j.data.Dataset;
import io.grad4j.data.Mnist;
import io.grad4j.nn.Dropout;
import io.grad4j.nn.Losses;
import io.grad4j.nn.Module;
import io.grad4j.nn.Sequential;
import io.grad4j.optim.Adam;
import io.grad4j.optim.AdamW;
import io.grad4j.optim.CosineAnnealingLR;
import io.grad4j.optim.LearningRateSchedule;
import io.grad4j.optim.Optimizer;
import io.grad4j.optim.SGD;
import io.grad4j.optim.StepLR;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code grad4j train}: an MLP trained with mini-batches (SGD: theta <- theta - lr * grad J, or
 * Adam/AdamW) on the shipped digits or full MNIST. Every step runs in a {@link TensorScope} so its
 * intermediates are freed deterministically; with --checkpoint-dir each epoch ends with an atomic
 * safetensors checkpoint (model, optimizer state, position) from which --resume continues exactly.
 */
@Command(name = "train", description = "Train an MLP (or --model cnn) on the shipped MNIST digits (or --data DIR).")
final class TrainCommand implements Callable<Integer> {
    private static final String MODEL_FILE = "model.safetensors";
    private static final String OPTIMIZER_FILE = "optimizer.safetensors";
    /** The optimizer state of the last committed epoch while the next one is being saved. */
    private static final String PREVIOUS_OPTIMIZER_FILE = "optimizer.previous.safetensors";

    @Spec
    CommandSpec spec;

    @Option(names = "--model", defaultValue = "mlp", description = "mlp or cnn (default ${DEFAULT-VALUE}); cnn is two"
            + " 3x3 convolution + max-pool blocks (32, 64 channels), a 128-unit layer and dropout, and unless given"
            + " trains with --epochs 10 --weight-decay 5e-4 --schedule cosine --dropout 0.25")
    String model;

    @Option(names = "--hidden", split = ",", defaultValue = "256,128", description = "hidden layer sizes (default ${DEFAULT-VALUE})")
    int[] hidden;

    @Option(names = "--epochs", defaultValue = "12", description = "epochs to train in total (default ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--batch", defaultValue = "64", description = "batch size (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--lr", defaultValue = "0.05", description = "learning rate (default ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--optimizer", defaultValue = "sgd", description = "sgd, adam or adamw (default ${DEFAULT-VALUE})")
    String optimizer;

    @Option(names = "--momentum", defaultValue = "0.9", description = "SGD momentum (default ${DEFAULT-VALUE})")
    double momentum;

    @Option(names = "--nesterov", description = "Nesterov momentum for SGD")
    boolean nesterov;

    @Option(names = "--weight-decay", defaultValue = "0", description = "weight decay (default ${DEFAULT-VALUE})")
    double weightDecay;

    @Option(names = "--schedule", defaultValue = "none", description = "learning-rate schedule: none, step or cosine (default ${DEFAULT-VALUE})")
    String schedule;

    @Option(names = "--step-size", defaultValue = "5", description = "epochs between decays for --schedule step (default ${DEFAULT-VALUE})")
    int stepSize;

    @Option(names = "--gamma", defaultValue = "0.5", description = "decay factor for --schedule step (default ${DEFAULT-VALUE})")
    double gamma;

    @Option(names = "--dropout", defaultValue = "0", description = "dropout probability after each hidden layer (default ${DEFAULT-VALUE})")
    double dropout;

    @Option(names = "--seed", defaultValue = "1", description = "seed for initialisation, shuffling and dropout (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--backend", description = "cpu, cuda or auto")
    String backend;

    @Option(names = "--data", description = "folder with the four MNIST IDX files (plain or .gz); default: the shipped digits")
    Path data;

    @Option(names = "--out", defaultValue = "runs/latest", description = "folder for metrics.csv and metrics.png (default ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--checkpoint-dir", description = "save model and optimizer state here after every epoch")
    Path checkpointDir;

    @Option(names = "--resume", description = "continue from the checkpoint in --checkpoint-dir")
    boolean resume;

    @Option(names = "--overwrite", description = "start afresh in a --checkpoint-dir that already holds a checkpoint,"
            + " replacing it (without this, train refuses such a folder unless --resume)")
    boolean overwrite;

    @Option(names = "--no-progress", description = "no progress bar (it is also off when the output is not a terminal)")
    boolean noProgress;

    @Option(names = "--verbose", description = "print device memory statistics after every epoch")
    boolean verbose;

    @Option(names = "--cuda-graph", description = "cuda only: record the training step in a CUDA graph and replay it"
            + " (one launch per step; needs --optimizer sgd and no dropout)")
    boolean cudaGraph;

    @Option(names = "--profile-kernels", description = "cuda only: after every epoch, print the GPU time of each kernel"
            + " of its training steps (stream events around each launch; adds host time, so epoch times grow)")
    boolean profileKernels;

    @Override
    public Integer call() throws IOException {
        applyModelDefaults();
        validate();
        Grad4jCli.selectBackend(backend);
        Backend device = Backends.current();
        if (cudaGraph && !(device instanceof CudaBackend)) {
            throw new ParameterException(spec.commandLine(), "--cuda-graph needs the cuda backend, got " + device.name());
        }
        if (profileKernels && !(device instanceof CudaBackend)) {
            throw new ParameterException(spec.commandLine(), "--profile-kernels needs the cuda backend, got " + device.name());
        }
        Dataset train = data != null ? Mnist.train(data) : shipped("train");
        Dataset test = data != null ? Mnist.test(data) : shipped("t10k");
        checkDatasets(train, test);
        checkWritable(); // a folder that cannot take a checkpoint or the metrics fails now, not after an epoch
        if (batch > train.size()) {
            System.out.println("note: --batch " + batch + " is larger than the " + train.size()
                    + " training examples; each epoch is one batch of " + train.size());
        }

        if (resume && !Files.isDirectory(checkpointDir)) { // before the lock would create the folder
            throw new IllegalArgumentException("--resume: no checkpoint in " + checkpointDir.toAbsolutePath()
                    + " (the folder does not exist)");
        }
        // one run at a time per checkpoint folder, held from before --resume reads it until the last save
        try (CheckpointLock ignored = checkpointDir != null ? CheckpointLock.acquire(checkpointDir) : null) {
            return train(device, train, test);
        }
    }

    private boolean isCnn() {
        return "cnn".equalsIgnoreCase(model);
    }

    /** Whether the user named this option (picocli's parse result; false when the command was built by hand). */
    private boolean given(String option) {
        return spec != null && spec.commandLine() != null && spec.commandLine().getParseResult() != null
                && spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /** The CNN's recipe (SGD momentum 0.9, lr 0.05, weight decay 5e-4, cosine over 10 epochs, dropout 0.25) where not given. */
    private void applyModelDefaults() {
        if (!isCnn()) {
            return;
        }
        if (!given("--epochs")) {
            epochs = 10;
        }
        if (!given("--weight-decay")) {
            weightDecay = 5e-4;
        }
        if (!given("--schedule")) {
            schedule = "cosine";
        }
        if (!given("--dropout")) {
            dropout = 0.25;
        }
    }

    /** Builds the model and optimizer, resumes if asked, and trains every epoch (see the class comment). */
    private int train(Backend device, Dataset train, Dataset test) throws IOException {
        Sequential model;
        List<Dropout> dropouts;
        if (isCnn()) {
            Cnn cnn = Cnn.build(train.features(), seed, DType.FLOAT32, dropout);
            model = cnn.model();
            dropouts = cnn.dropouts();
        } else {
            Mlp mlp = Mlp.build(train.features(), hidden, 10, seed, DType.FLOAT32, dropout);
            model = mlp.model();
            dropouts = mlp.dropouts();
        }
        Optimizer opt = makeOptimizer(model.parameters());
        LearningRateSchedule lrSchedule = makeSchedule();
        DataLoader loader = new DataLoader(train, batch, true, seed);

        int firstEpoch = 1;
        if (resume) {
            firstEpoch = restore(model, opt, dropouts) + 1;
            System.out.println("resumed from " + checkpointDir.resolve(MODEL_FILE) + " after epoch " + (firstEpoch - 1));
        }
        // --overwrite keeps the old run's checkpoint until this run's first one commits (save()),
        // so a run that fails or diverges before then has replaced nothing
        oldRunFilesRemain = overwrite && checkpointDir != null;
        System.out.printf(Locale.ROOT, "training %s on %s: %d train / %d test examples, batch %d, %s, %d epochs%n",
                describe(train.features()), device.name(), train.size(), test.size(), batch, describeOptimizer(), epochs);
        Files.createDirectories(out);
        Path csvFile = out.resolve("metrics.csv");
        boolean appendCsv = resume && Files.exists(csvFile);
        if (appendCsv) {
            MetricsCsv.keepEpochsUpTo(csvFile, firstEpoch - 1); // rows of epochs about to be trained again would repeat
        }
        long start = System.nanoTime();
        double trainLoss = Double.NaN;
        double testAccuracy = Double.NaN;
        List<double[]> history = new ArrayList<>();
        GraphedStep graphed = null;
        try (PrintWriter csv = new PrintWriter(Files.newBufferedWriter(csvFile, StandardOpenOption.CREATE,
                appendCsv ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING))) {
            if (!appendCsv) {
                csv.println("epoch,train_loss,train_accuracy,test_accuracy,learning_rate,seconds");
            }
            for (int epoch = firstEpoch; epoch <= epochs; epoch++) {
                long t0 = System.nanoTime();
                lrSchedule.applyTo(opt, epoch - 1);
                model.train();
                double lossSum = 0;
                long correct = 0;
                long seen = 0;
                DeviceActivity activityBefore = MemoryReport.activity(device);
                if (profileKernels) {
                    ((CudaBackend) device).profileKernels(true);
                }
                try (ProgressBar bar = progressBar(epoch, loader.batchesPerEpoch())) {
                    if (graphed != null) {
                        graphed.newEpoch(); // the learning rate may have changed: record again
                    }
                    for (Batch b : loader.epoch(epoch)) {
                        if (cudaGraph && graphed == null) {
                            graphed = new GraphedStep((CudaBackend) device, model, opt, b.features());
                        }
                        try (TensorScope step = TensorScope.open()) {
                            Tensor[] lossAndLogits;
                            if (graphed != null && graphed.fits(b)) {
                                lossAndLogits = graphed.step(b);
                            } else {
                                try (Tensor x = b.features()) {
                                    lossAndLogits = trainingStep(model, opt, x, b.labels());
                                }
                            }
                            double loss = lossAndLogits[0].item();
                            if (!Double.isFinite(loss)) {
                                throw diverged(loss, epoch, seen / Math.min(batch, train.size()) + 1); // earlier batches were full
                            }
                            lossSum += loss * b.size();
                            correct += countCorrect(lossAndLogits[1], b.labels());
                            seen += b.size();
                        }
                        if (bar != null) {
                            bar.step();
                            bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f acc %.4f", lossSum / seen, (double) correct / seen));
                        }
                    }
                }
                DeviceActivity trainingActivity = activityBefore == null ? null
                        : MemoryReport.activity(device).since(activityBefore);
                String kernelTimes = null;
                if (profileKernels) { // the training steps only: evaluation is not profiled
                    kernelTimes = ((CudaBackend) device).kernelProfile();
                    ((CudaBackend) device).profileKernels(false);
                }
                if (seen == 0) { // DataLoader never gives an empty epoch; were it to, 0/0 must not pass as a loss
                    throw new IllegalStateException("epoch " + epoch + " had no training batches (" + train.size()
                            + " examples, --batch " + batch + ")");
                }
                checkParametersFinite(model, epoch);
                trainLoss = lossSum / seen;
                double trainAccuracy = (double) correct / seen;
                testAccuracy = evaluate(model, test);
                double seconds = (System.nanoTime() - t0) / 1e9;
                System.out.printf(Locale.ROOT, "epoch %d/%d  loss %.4f  train_acc %.4f  test_acc %.4f  lr %.4g  %.2fs%n",
                        epoch, epochs, trainLoss, trainAccuracy, testAccuracy, opt.learningRate(), seconds);
                csv.printf(Locale.ROOT, "%d,%.6f,%.6f,%.6f,%.6g,%.3f%n", epoch, trainLoss, trainAccuracy, testAccuracy,
                        opt.learningRate(), seconds);
                csv.flush();
                history.add(new double[] {epoch, trainLoss, trainAccuracy, testAccuracy});
                if (verbose) {
                    System.out.println("  memory: " + MemoryReport.describe(device));
                    if (trainingActivity != null) {
                        System.out.println("  device activity " + trainingActivity.perStep(loader.batchesPerEpoch()));
                    }
                }
                if (kernelTimes != null) {
                    System.out.println("  GPU time per kernel, " + loader.batchesPerEpoch() + " training steps:");
                    System.out.println(kernelTimes);
                }
                if (checkpointDir != null) {
                    save(model, opt, dropouts, epoch);
                }
            }
        } finally {
            if (graphed != null) {
                graphed.close();
            }
        }
        try {
            Plot.write(out.resolve("metrics.png"), csvFile);
        } catch (LinkageError e) {
            // a runtime without java.desktop or XChart (the slim GPU bundle) still trains
            System.out.println("plot skipped (" + e + "); metrics are in " + csvFile);
        }
        double total = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "final: epochs=%d test_accuracy=%.4f train_loss=%.4f seconds=%.1f backend=%s%n",
                epochs, testAccuracy, trainLoss, total, device.name());
        return 0;
    }

    /** One step: forward, cross-entropy, backward, optimizer update. Returns {loss, logits}. */
    static Tensor[] trainingStep(Module model, Optimizer opt, Tensor x, int[] labels) {
        opt.zeroGrad();
        Tensor logits = model.forward(x);
        Tensor loss = Losses.crossEntropy(logits, labels);
        loss.backward();
        opt.step();
        return new Tensor[] {loss, logits};
    }

    private void validate() {
        List<String> problems = new ArrayList<>();
        if (!"mlp".equalsIgnoreCase(model) && !isCnn()) problems.add("--model must be mlp or cnn, got '" + model + "'");
        if (isCnn() && given("--hidden")) problems.add("--hidden sets the MLP's layers; --model cnn has its own");
        if (epochs < 1) problems.add("--epochs must be >= 1, got " + epochs);
        if (batch < 1) problems.add("--batch must be >= 1, got " + batch);
        if (!(lr > 0) || !Double.isFinite(lr)) problems.add("--lr must be a positive number, got " + lr);
        if (!(momentum >= 0 && momentum < 1)) problems.add("--momentum must be in [0, 1), got " + momentum);
        if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) problems.add("--weight-decay must be >= 0, got " + weightDecay);
        if (!(dropout >= 0 && dropout < 1)) problems.add("--dropout must be in [0, 1), got " + dropout);
        for (int h : hidden) {
            if (h < 1) problems.add("--hidden sizes must be >= 1, got " + h);
        }
        if (!List.of("sgd", "adam", "adamw").contains(optimizer.toLowerCase(Locale.ROOT))) {
            problems.add("--optimizer must be sgd, adam or adamw, got '" + optimizer + "'");
        }
        if (nesterov && (momentum == 0 || !optimizer.equalsIgnoreCase("sgd"))) {
            problems.add("--nesterov needs --optimizer sgd with --momentum > 0");
        }
        if (!List.of("none", "step", "cosine").contains(schedule.toLowerCase(Locale.ROOT))) {
            problems.add("--schedule must be none, step or cosine, got '" + schedule + "'");
        }
        if (stepSize < 1) problems.add("--step-size must be >= 1, got " + stepSize);
        if (!(gamma > 0 && gamma <= 1)) problems.add("--gamma must be in (0, 1], got " + gamma);
        if (resume && checkpointDir == null) problems.add("--resume needs --checkpoint-dir");
        if (overwrite && checkpointDir == null) problems.add("--overwrite needs --checkpoint-dir");
        if (overwrite && resume) problems.add("--overwrite and --resume contradict each other: --resume continues the"
                + " checkpoint, --overwrite replaces it; pass one");
        if (cudaGraph && !optimizer.equalsIgnoreCase("sgd")) {
            problems.add("--cuda-graph needs --optimizer sgd (" + optimizer + " computes step-dependent values on the host,"
                    + " which a replayed graph would repeat)");
        }
        if (cudaGraph && profileKernels) {
            problems.add("--profile-kernels times eager launches, and --cuda-graph replays a step as one graph launch:"
                    + " profile without --cuda-graph");
        }
        if (cudaGraph && dropout > 0) {
            problems.add("--cuda-graph cannot record --dropout " + dropout + ": its masks are drawn on the host and a replay"
                    + " would repeat the same mask");
        }
        // an empty path is the current folder: metrics, a checkpoint or the data looked for there by accident
        if (out != null && out.toString().isBlank()) problems.add("--out is an empty path; name a folder");
        if (checkpointDir != null && checkpointDir.toString().isBlank()) problems.add("--checkpoint-dir is an empty path; name a folder");
        if (data != null && data.toString().isBlank()) problems.add("--data is an empty path; name the folder with the MNIST files");
        // found before training, not when the first epoch's checkpoint or the metrics are written
        if (out != null && Files.exists(out) && !Files.isDirectory(out)) problems.add("--out " + out + " is not a folder");
        if (checkpointDir != null && Files.exists(checkpointDir) && !Files.isDirectory(checkpointDir)) {
            problems.add("--checkpoint-dir " + checkpointDir + " is not a folder");
        } else if (checkpointDir != null && !resume && !overwrite && Files.exists(checkpointDir.resolve(MODEL_FILE))) {
            // model.safetensors is the commit point: the folder holds a trained model that this run would replace
            problems.add("--checkpoint-dir " + checkpointDir + " already holds a checkpoint (" + MODEL_FILE + describeEpoch()
                    + "); pass --resume to continue it, choose a new folder, or pass --overwrite to replace it");
        }
        if (!problems.isEmpty()) {
            throw new ParameterException(spec.commandLine(), String.join("; ", problems));
        }
    }

    /** ", epoch N" from the checkpoint's header when it can be read; empty otherwise (the refusal stands either way). */
    private String describeEpoch() {
        try {
            String e = Safetensors.header(checkpointDir.resolve(MODEL_FILE)).metadata().get("epoch");
            return e == null ? "" : ", epoch " + e;
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /**
     * The test set must match the training set before an epoch is spent: evaluation after the
     * first epoch would otherwise be where an empty test set or one of another image size fails.
     */
    private void checkDatasets(Dataset train, Dataset test) {
        String from = data != null ? "--data " + data : "the shipped digits";
        if (train.size() == 0) {
            throw new IllegalArgumentException(from + ": the training set is empty");
        }
        if (test.size() == 0) {
            throw new IllegalArgumentException(from + ": the test set is empty (t10k files with 0 images); nothing to"
                    + " measure accuracy on");
        }
        if (test.features() != train.features()) {
            throw new IllegalArgumentException(from + ": the test images have " + test.features()
                    + " pixels but the training images " + train.features() + "; both sets must have one image size");
        }
    }

    /**
     * Every folder and file this run writes is checked before training: an existing
     * --checkpoint-dir must take a new file (probed by creating and deleting one, which also finds a
     * read-only file system), a new one must have a writable parent, and none of the files to be
     * written may be a directory (it would fail with a bare "Is a directory" after the epoch) or a
     * FIFO (opening it would block for ever).
     */
    private void checkWritable() throws IOException {
        if (checkpointDir != null) {
            for (String name : List.of(MODEL_FILE, OPTIMIZER_FILE, PREVIOUS_OPTIMIZER_FILE)) {
                Path f = checkpointDir.resolve(name);
                if (Files.exists(f) && !Files.isRegularFile(f)) {
                    throw new IllegalArgumentException("--checkpoint-dir " + checkpointDir + ": " + f + " is "
                            + (Files.isDirectory(f) ? "a directory" : "not a regular file")
                            + "; the checkpoint cannot be written there (move it away or choose another folder)");
                }
            }
            probeWritable("--checkpoint-dir", checkpointDir);
        }
        for (String name : List.of("metrics.csv", "metrics.png")) {
            Path f = out.resolve(name);
            if (Files.exists(f) && !Files.isRegularFile(f)) { // a FIFO would block the write (or the resume's read) for ever
                throw new IllegalArgumentException("--out " + out + ": " + f + " is "
                        + (Files.isDirectory(f) ? "a directory" : "not a regular file (a FIFO, socket or device)")
                        + "; the metrics cannot be written there (move it away or choose another --out)");
            }
        }
        probeWritable("--out", out);
    }

    private static void probeWritable(String option, Path folder) throws IOException {
        if (Files.isDirectory(folder)) {
            Path probe;
            try {
                probe = Files.createTempFile(folder, ".grad4j-write-check-", ".tmp");
            } catch (IOException e) {
                throw new IOException(option + " " + folder + " cannot be written to (" + describe(e)
                        + "); choose a folder this user can write", e);
            }
            Files.delete(probe);
            return;
        }
        Path parent = folder.toAbsolutePath().getParent();
        while (parent != null && !Files.exists(parent)) {
            parent = parent.getParent();
        }
        if (parent != null && (!Files.isDirectory(parent) || !Files.isWritable(parent))) {
            throw new IOException(option + " " + folder + " cannot be created: " + parent
                    + (Files.isDirectory(parent) ? " is not writable" : " is not a folder"));
        }
    }

    private static String describe(IOException e) {
        return e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason()
                : e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }

    /** --overwrite: the folder still holds files of the run this one replaces, until its first checkpoint commits. */
    private boolean oldRunFilesRemain;

    /**
     * A non-finite loss ends the run with exit 1: the parameters are NaN from here on, so every
     * later epoch and its checkpoint would be meaningless (a run that "finished" with loss NaN
     * and exit 0 trained nothing). The checkpoint of the last finished epoch is left as it was.
     */
    private IllegalStateException diverged(double loss, int epoch, long step) {
        return new IllegalStateException("the training loss became " + loss + " in epoch " + epoch + " (batch " + step
                + "); the model diverged, so training stops here and nothing of this epoch is saved"
                + (checkpointDir != null ? " (the checkpoint in " + checkpointDir + " is the last finished epoch's)" : "")
                + ". Lower --lr (now " + lr + ") or --batch (now " + batch + ")");
    }

    private Optimizer makeOptimizer(List<Tensor> params) {
        return switch (optimizer.toLowerCase(Locale.ROOT)) {
            case "adam" -> new Adam(params, lr, 0.9, 0.999, 1e-8, weightDecay);
            case "adamw" -> new AdamW(params, lr, 0.9, 0.999, 1e-8, weightDecay);
            default -> new SGD(params, lr, momentum, weightDecay, nesterov);
        };
    }

    private LearningRateSchedule makeSchedule() {
        return switch (schedule.toLowerCase(Locale.ROOT)) {
            case "step" -> new StepLR(lr, stepSize, gamma);
            case "cosine" -> new CosineAnnealingLR(lr, epochs, 0.0);
            default -> epoch -> lr;
        };
    }

    private String describeOptimizer() {
        String s = optimizer.toLowerCase(Locale.ROOT) + " lr " + lr;
        if (optimizer.equalsIgnoreCase("sgd")) {
            s += " momentum " + momentum + (nesterov ? " (nesterov)" : "");
        }
        if (weightDecay > 0) {
            s += " weight decay " + weightDecay;
        }
        if (!schedule.equalsIgnoreCase("none")) {
            s += ", " + schedule + " schedule";
        }
        return dropout > 0 ? s + ", dropout " + dropout : s;
    }

    private String describe(int features) {
        if (isCnn()) {
            return "CNN 1x28x28 conv32-pool conv64-pool 3136-128-10";
        }
        StringBuilder sb = new StringBuilder("MLP ").append(features);
        for (int h : hidden) {
            sb.append('-').append(h);
        }
        return sb.append("-10").toString();
    }

    private ProgressBar progressBar(int epoch, int steps) {
        if (noProgress || !outputIsTerminal()) {
            return null;
        }
        // drawn on stdout, the stream outputIsTerminal() looks at (the library's default is stderr,
        // which `train 2>log` would fill with redraws while stdout is a terminal)
        return new ProgressBarBuilder().setTaskName("epoch " + epoch + "/" + epochs).setInitialMax(steps)
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).continuousUpdate()
                .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.out)).build();
    }

    /**
     * Whether a person watches the output: a progress bar redrawn with carriage returns is noise in
     * a log file, a pipe or CI. (Since JDK 22 System.console() exists even when redirected, so
     * isTerminal() is what tells; it is true only when standard input and output both are one.)
     */
    static boolean outputIsTerminal() {
        java.io.Console console = System.console();
        return console != null && console.isTerminal();
    }

    /** What a checkpoint records besides tensors: enough to rebuild the run and check it matches. */
    private Map<String, String> runMetadata(int epoch, List<Dropout> dropouts) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("epoch", Integer.toString(epoch));
        meta.put("seed", Long.toString(seed));
        meta.put("model", isCnn() ? "cnn" : "mlp");
        meta.put("hidden", Arrays.toString(hidden));
        meta.put("optimizer", optimizer.toLowerCase(Locale.ROOT));
        meta.put("batch", Integer.toString(batch));
        // momentum decides whether SGD keeps state at all: resuming with another one cannot load it
        meta.put("momentum", Double.toString(momentum));
        for (int i = 0; i < dropouts.size(); i++) {
            meta.put("dropout." + i + ".calls", Long.toString(dropouts.get(i).calls()));
        }
        return meta;
    }

    private void save(Sequential model, Optimizer opt, List<Dropout> dropouts, int epoch) throws IOException {
        Files.createDirectories(checkpointDir);
        Map<String, String> meta = runMetadata(epoch, dropouts);
        // model.safetensors is the commit point, written last. Until it is, the optimizer state of
        // the model's epoch must survive: move it aside (an atomic rename) before writing the new
        // one, so a crash at any moment leaves a model file and an optimizer file of the same epoch
        // (restore() takes whichever of the two optimizer files matches). CrashSafetyTest kills here.
        Path optFile = checkpointDir.resolve(OPTIMIZER_FILE);
        if (Files.exists(optFile)) {
            Files.move(optFile, checkpointDir.resolve(PREVIOUS_OPTIMIZER_FILE),
                    StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        try (TensorScope scope = TensorScope.open()) {
            Safetensors.save(optFile, opt.state(), meta);
        }
        Checkpoint.save(checkpointDir.resolve(MODEL_FILE), Checkpoint.named(model), meta);
        if (oldRunFilesRemain) {
            // this run's checkpoint has committed; the optimizer file moved aside above is the old
            // run's, which no --resume of this run may pair with its model
            Files.deleteIfExists(checkpointDir.resolve(PREVIOUS_OPTIMIZER_FILE));
            oldRunFilesRemain = false;
        }
    }

    /**
     * Parameters that are no longer finite (a last step that overflowed after its loss was read)
     * are not trained, and are not saved as if they were: the run stops like a diverged loss does.
     */
    private void checkParametersFinite(Sequential model, int epoch) {
        List<Tensor> params = model.parameters();
        for (int i = 0; i < params.size(); i++) {
            double sum;
            try (TensorScope scope = TensorScope.open()) {
                sum = params.get(i).sum().item();
            }
            if (!Double.isFinite(sum)) {
                throw new IllegalStateException("parameter " + i + " (shape " + java.util.Arrays.toString(params.get(i).shape())
                        + ") is no longer finite after epoch " + epoch + "; the model diverged, so training stops here"
                        + " and nothing of this epoch is saved"
                        + (checkpointDir != null ? " (the checkpoint in " + checkpointDir + " is the last finished epoch's)" : "")
                        + ". Lower --lr (now " + lr + ") or --batch (now " + batch + ")");
            }
        }
    }

    /** Loads model, optimizer and dropout position; returns the last completed epoch. */
    private int restore(Sequential model, Optimizer opt, List<Dropout> dropouts) throws IOException {
        Path modelFile = checkpointDir.resolve(MODEL_FILE);
        Path optFile = checkpointDir.resolve(OPTIMIZER_FILE);
        Path previousOptFile = checkpointDir.resolve(PREVIOUS_OPTIMIZER_FILE);
        if (!Files.exists(modelFile) || !Files.exists(optFile) && !Files.exists(previousOptFile)) {
            throw new IllegalArgumentException("--resume: no checkpoint in " + checkpointDir.toAbsolutePath()
                    + " (expected " + MODEL_FILE + " and " + OPTIMIZER_FILE + ")");
        }
        // settings first: "this run has hidden=[32]" says more than a list of mismatched shapes
        Map<String, String> meta = Safetensors.header(modelFile).metadata();
        for (String key : List.of("seed", "hidden", "optimizer", "batch")) {
            String now = runMetadata(0, List.of()).get(key);
            if (!meta.containsKey(key)) {
                throw new CheckpointMetadataException(modelFile, "--resume: the checkpoint's metadata has no '" + key
                        + "' entry (it holds " + meta.keySet() + "); it was not written by grad4j train");
            }
            if (!now.equals(meta.get(key))) {
                throw new IllegalArgumentException("--resume: the checkpoint was made with " + key + "=" + meta.get(key)
                        + " but this run has " + key + "=" + now + "; resume with the same settings");
            }
        }
        // recorded since 2026-12-08; older checkpoints are MLPs
        String savedModel = meta.getOrDefault("model", "mlp");
        if (!savedModel.equals(isCnn() ? "cnn" : "mlp")) {
            throw new IllegalArgumentException("--resume: the checkpoint holds a " + savedModel + " but this run trains --model "
                    + (isCnn() ? "cnn" : "mlp") + "; resume with the same settings");
        }
        // recorded since 2026-12-04; older checkpoints lack it and are resumed as before
        String savedMomentum = meta.get("momentum");
        String momentumNow = runMetadata(0, List.of()).get("momentum");
        if (savedMomentum != null && optimizer.equalsIgnoreCase("sgd") && !savedMomentum.equals(momentumNow)) {
            throw new IllegalArgumentException("--resume: the checkpoint was made with --momentum " + savedMomentum
                    + " but this run has --momentum " + momentumNow + "; resume with the same settings");
        }
        // a damaged or hand-edited epoch (-3, "abc") must not resume at -2 or fail with a bare NumberFormatException
        int epoch = (int) TrainingState.wholeNumber(modelFile, meta, "epoch", 0, Integer.MAX_VALUE);
        if (epoch >= epochs) {
            throw new IllegalArgumentException("--resume: the checkpoint already finished epoch " + epoch
                    + " of --epochs " + epochs + "; ask for more epochs to continue");
        }
        long[] dropoutCalls = new long[dropouts.size()];
        for (int i = 0; i < dropouts.size(); i++) {
            String key = "dropout." + i + ".calls";
            dropoutCalls[i] = meta.containsKey(key) ? TrainingState.wholeNumber(modelFile, meta, key, 0, Long.MAX_VALUE) : 0;
        }
        // a crash while saving epoch N+1 leaves optimizer.safetensors absent, partial (a temporary
        // file) or already at N+1; the state of the model's epoch N is then the previous file
        Path matching = null;
        List<String> found = new ArrayList<>();
        for (Path candidate : List.of(optFile, previousOptFile)) {
            if (Files.exists(candidate)) {
                String e = Safetensors.header(candidate).metadata().get("epoch");
                found.add(candidate.getFileName() + " epoch " + e);
                if (matching == null && Integer.toString(epoch).equals(e == null ? null : e.trim())) {
                    matching = candidate;
                }
            }
        }
        if (matching == null) {
            throw new IllegalArgumentException("--resume: " + modelFile + " is from epoch " + epoch
                    + " but no optimizer state of that epoch is in " + checkpointDir + " (found " + found + ")");
        }
        Checkpoint.loadInto(modelFile, Checkpoint.named(model));
        try (Safetensors.Loaded state = Safetensors.load(matching)) {
            if (Checkpoint.isLegacyLayout(meta)) { // Linear weights stored [in, out]: their buffers too
                Map<String, Tensor> converted = Checkpoint.fromLegacyLayout(state.tensors());
                try {
                    opt.loadState(converted);
                } finally {
                    Checkpoint.closeViews(converted, state.tensors());
                }
            } else {
                opt.loadState(state.tensors());
            }
        }
        for (int i = 0; i < dropouts.size(); i++) {
            dropouts.get(i).resumeAt(dropoutCalls[i]);
        }
        return epoch;
    }

    /** Test accuracy, batched, in eval mode, without recording history. */
    static double evaluate(Module model, Dataset test) {
        model.eval();
        DataLoader loader = new DataLoader(test, 500, false, 0);
        long correct = 0;
        try (NoGrad ignored = Autograd.noGrad()) {
            for (Batch b : loader.epoch(0)) {
                try (TensorScope scope = TensorScope.open(); Tensor x = b.features()) {
                    correct += countCorrect(model.forward(x), b.labels());
                }
            }
        }
        return (double) correct / test.size();
    }

    static long countCorrect(Tensor logits, int[] labels) {
        float[] v = logits.toFloatArray();
        int classes = logits.shape()[1];
        long correct = 0;
        for (int i = 0; i < labels.length; i++) {
            int best = 0;
            for (int c = 1; c < classes; c++) {
                if (v[i * classes + c] > v[i * classes + best]) {
                    best = c;
                }
            }
            if (best == labels[i]) {
                correct++;
            }
        }
        return correct;
    }

    /** The digits shipped inside this jar (copied from data/digits at build time). */
    static Dataset shipped(String part) throws IOException {
        String images = "/io/grad4j/examples/digits/" + part + "-images-idx3-ubyte.gz";
        String labels = "/io/grad4j/examples/digits/" + part + "-labels-idx1-ubyte.gz";
        return Mnist.load(() -> resource(images), images, () -> resource(labels), labels);
    }

    private static InputStream resource(String name) throws IOException {
        InputStream in = TrainCommand.class.getResourceAsStream(name);
        if (in == null) {
            throw new IOException("resource " + name + " is missing from the grad4j jar");
        }
        return in;
    }
}
