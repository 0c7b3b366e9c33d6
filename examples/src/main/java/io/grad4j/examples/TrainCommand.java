package io.grad4j.examples;

import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.data.Batch;
import io.grad4j.data.DataLoader;
import io.grad4j.data.Dataset;
import io.grad4j.data.Mnist;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.nn.Module;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;
import io.grad4j.optim.SGD;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code grad4j train}: a ReLU MLP trained with mini-batch SGD (theta <- theta - lr * grad J) on the
 * shipped digits (or full MNIST with --data), one {@link TensorScope} per step so every
 * intermediate is freed deterministically.
 */
@Command(name = "train", description = "Train an MLP on the shipped MNIST digits (or --data DIR).")
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--hidden", split = ",", defaultValue = "256,128", description = "hidden layer sizes (default ${DEFAULT-VALUE})")
    int[] hidden;

    @Option(names = "--epochs", defaultValue = "12", description = "passes over the training set (default ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--batch", defaultValue = "64", description = "batch size (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--lr", defaultValue = "0.05", description = "learning rate (default ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--momentum", defaultValue = "0.9", description = "SGD momentum (default ${DEFAULT-VALUE})")
    double momentum;

    @Option(names = "--weight-decay", defaultValue = "0", description = "L2 weight decay (default ${DEFAULT-VALUE})")
    double weightDecay;

    @Option(names = "--optimizer", defaultValue = "sgd", description = "optimizer: sgd (default ${DEFAULT-VALUE})")
    String optimizer;

    @Option(names = "--seed", defaultValue = "1", description = "seed for initialisation and shuffling (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--backend", description = "cpu, cuda or auto")
    String backend;

    @Option(names = "--data", description = "folder with the four MNIST IDX files (plain or .gz); default: the shipped digits")
    Path data;

    @Option(names = "--out", defaultValue = "runs/latest", description = "folder for metrics.csv (default ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws IOException {
        validate();
        Grad4jCli.selectBackend(backend);
        Backend device = Backends.current();
        Dataset train = data != null ? Mnist.train(data) : shipped("train");
        Dataset test = data != null ? Mnist.test(data) : shipped("t10k");

        List<Module> layers = new ArrayList<>();
        int in = train.features();
        long layerSeed = seed;
        for (int h : hidden) {
            layers.add(new Linear(in, h, layerSeed++));
            layers.add(new ReLU());
            in = h;
        }
        layers.add(new Linear(in, 10, layerSeed));
        Sequential model = new Sequential(layers.toArray(Module[]::new));
        SGD sgd = new SGD(model.parameters(), lr, momentum, weightDecay);
        DataLoader loader = new DataLoader(train, batch, true, seed);

        System.out.printf(Locale.ROOT, "training %s on %s: %d train / %d test examples, batch %d, lr %s, momentum %s, %d epochs%n",
                describe(train.features()), device.name(), train.size(), test.size(), batch, lr, momentum, epochs);
        Files.createDirectories(out);
        long start = System.nanoTime();
        double trainLoss = Double.NaN;
        double testAccuracy = Double.NaN;
        try (PrintWriter csv = new PrintWriter(Files.newBufferedWriter(out.resolve("metrics.csv")))) {
            csv.println("epoch,train_loss,train_accuracy,test_accuracy,seconds");
            for (int epoch = 1; epoch <= epochs; epoch++) {
                long t0 = System.nanoTime();
                double lossSum = 0;
                long correct = 0;
                long seen = 0;
                for (Batch b : loader.epoch(epoch)) {
                    try (TensorScope step = TensorScope.open(); Tensor x = b.features()) {
                        sgd.zeroGrad();
                        Tensor logits = model.forward(x);
                        Tensor loss = Losses.crossEntropy(logits, b.labels());
                        loss.backward();
                        sgd.step();
                        lossSum += loss.item() * b.size();
                        correct += countCorrect(logits, b.labels());
                        seen += b.size();
                    }
                }
                trainLoss = lossSum / seen;
                double trainAccuracy = (double) correct / seen;
                testAccuracy = evaluate(model, test);
                double seconds = (System.nanoTime() - t0) / 1e9;
                System.out.printf(Locale.ROOT, "epoch %d/%d  loss %.4f  train_acc %.4f  test_acc %.4f  %.2fs%n",
                        epoch, epochs, trainLoss, trainAccuracy, testAccuracy, seconds);
                csv.printf(Locale.ROOT, "%d,%.6f,%.6f,%.6f,%.3f%n", epoch, trainLoss, trainAccuracy, testAccuracy, seconds);
                csv.flush();
            }
        }
        double total = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "final: epochs=%d test_accuracy=%.4f train_loss=%.4f seconds=%.1f backend=%s%n",
                epochs, testAccuracy, trainLoss, total, device.name());
        return 0;
    }

    private void validate() {
        List<String> problems = new ArrayList<>();
        if (epochs < 1) problems.add("--epochs must be >= 1, got " + epochs);
        if (batch < 1) problems.add("--batch must be >= 1, got " + batch);
        if (!(lr > 0) || !Double.isFinite(lr)) problems.add("--lr must be a positive number, got " + lr);
        if (!(momentum >= 0 && momentum < 1)) problems.add("--momentum must be in [0, 1), got " + momentum);
        if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) problems.add("--weight-decay must be >= 0, got " + weightDecay);
        for (int h : hidden) {
            if (h < 1) problems.add("--hidden sizes must be >= 1, got " + h);
        }
        if (!optimizer.equalsIgnoreCase("sgd")) problems.add("--optimizer: only 'sgd' is available, got '" + optimizer + "'");
        if (!problems.isEmpty()) {
            throw new ParameterException(spec.commandLine(), String.join("; ", problems));
        }
    }

    private String describe(int features) {
        StringBuilder sb = new StringBuilder("MLP ").append(features);
        for (int h : hidden) {
            sb.append('-').append(h);
        }
        return sb.append("-10").toString();
    }

    /** Test accuracy, batched, without recording history. */
    static double evaluate(Module model, Dataset test) {
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
    static Dataset shipped(String part) {
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
