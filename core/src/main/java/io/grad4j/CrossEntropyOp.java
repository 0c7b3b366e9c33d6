package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.ReduceOp;
import io.grad4j.backend.UnaryOp;

import java.lang.ref.Reference;
import java.util.Arrays;

/**
 * Softmax cross-entropy of each row of logits [rows, classes] against an integer label, fused
 * (one backend pass, max-subtracted) instead of log-softmax, a one-hot mask, a product and a sum.
 * With p = softmax(x_r) and y_r the label:
 * <pre>
 *   loss_r = log sum_c exp(x_rc) - x_r,y_r
 *   x_grad = g_r * (p - onehot(y_r))         (the backend recomputes p: nothing is saved)
 *   loss_dot_r = sum_c (p_c - onehot_c) * x_dot_rc
 * </pre>
 * and its mean over the batch, the usual training loss:
 * <pre>
 *   loss = (1/rows) sum_r loss_r
 *   x_grad = (g / rows) * (p - onehot(y_r))
 *   loss_dot = (1/rows) sum_r loss_dot_r
 * </pre>
 */
final class CrossEntropyOp {
    private CrossEntropyOp() {
    }

    static Tensor perRow(Tensor input, int[] labels) {
        input.requireFloatingPoint("crossEntropy");
        checkArguments(input, labels);
        Tensor logits = input.forKernel();
        int[] s = logits.shapeInternal();
        int rows = s[0];
        int classes = s[1];
        int[] y = labels.clone(); // the caller may reuse its array before backward runs
        Backend backend = logits.backendInternal();
        Tensor loss = Tensor.empty(backend, logits.dtypeInternal(), new int[] {rows});
        // The backend gets the caller's own array, and so does backward while it still holds the
        // same labels: a CUDA graph capture records the array it is handed as the step's input and
        // reads it again at every replay, so a copy would freeze the first batch's labels.
        backend.crossEntropy(logits.storage(), labels, loss.storage(), rows, classes);
        Reference.reachabilityFence(logits);
        return Graph.record("crossEntropy", loss, new Tensor[] {logits}, new Tensor[] {logits},
                g -> new Tensor[] {gradient(logits, current(labels, y), g, false)},
                t -> rowSlopes(logits, y, t[0]))
                .withRule(g -> new Tensor[] {logits.softmax(1).sub(oneHot(logits, y)).mul(g.reshape(rows, 1))});
    }

    /**
     * The mean over the batch as one backend call each way ({@link Backend#crossEntropyMean}), in
     * place of the per-row losses, their sum and a scalar multiply forward and a scalar multiply,
     * a broadcast and the per-row gradient backward: on a GPU, two launches instead of six in
     * every training step. The bits are those of {@code perRow(...).mean()}.
     */
    static Tensor mean(Tensor input, int[] labels) {
        input.requireFloatingPoint("crossEntropy");
        checkArguments(input, labels);
        Tensor logits = input.forKernel();
        int[] s = logits.shapeInternal();
        int rows = s[0];
        int classes = s[1];
        if (rows == 0) {
            throw new IllegalArgumentException("crossEntropy: empty batch; the mean of no losses is undefined");
        }
        int[] y = labels.clone();
        Backend backend = logits.backendInternal();
        Tensor loss = Tensor.empty(backend, logits.dtypeInternal(), new int[0]);
        backend.crossEntropyMean(logits.storage(), labels, loss.storage(), rows, classes); // labels: as in perRow
        Reference.reachabilityFence(logits);
        return Graph.record("crossEntropyMean", loss, new Tensor[] {logits}, new Tensor[] {logits},
                g -> new Tensor[] {gradient(logits, current(labels, y), g, true)},
                t -> {
                    Tensor total = ReductionOps.reduceRaw(ReduceOp.SUM, rowSlopes(logits, y, t[0]), 0).view(new int[0]);
                    return ElementwiseOps.derivativeTimes(UnaryOp.MUL_SCALAR, 1.0 / rows, total, total, total);
                })
                .withRule(g -> new Tensor[] {logits.softmax(1).sub(oneHot(logits, y)).mul(g.mul(1.0 / rows))});
    }

    /** [rows, classes] with 1 at each row's label: a constant of the differentiable rules. */
    private static Tensor oneHot(Tensor logits, int[] labels) {
        int[] s = logits.shapeInternal();
        double[] values = new double[s[0] * s[1]];
        for (int r = 0; r < labels.length; r++) {
            values[r * s[1] + labels[r]] = 1;
        }
        Backend b = logits.backendInternal();
        if (logits.dtypeInternal() == io.grad4j.DType.FLOAT64) {
            return Tensor.wrap(b, s, b.upload(values));
        }
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return Tensor.wrap(b, s, b.upload(f));
    }

    private static void checkArguments(Tensor logits, int[] labels) {
        logits.checkOpen();
        if (labels == null) {
            throw new IllegalArgumentException("crossEntropy: labels are null");
        }
        int[] s = logits.shapeInternal();
        if (s.length != 2) {
            throw new IllegalArgumentException("crossEntropy: logits must be [batch, classes], got shape " + Arrays.toString(s));
        }
        int rows = s[0];
        int classes = s[1];
        if (labels.length != rows) {
            throw new IllegalArgumentException("crossEntropy: " + labels.length + " labels for a batch of " + rows);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("crossEntropy: label " + labels[i] + " at batch index " + i
                        + " is out of range [0, " + classes + ")");
            }
        }
    }

    /** loss_dot_r = sum_c (p_c - onehot_c) * x_dot_rc for every row r: shape [rows]. */
    private static Tensor rowSlopes(Tensor logits, int[] labels, Tensor tangent) {
        int[] s = logits.shapeInternal();
        Tensor ones = Tensor.full(logits.backendInternal(), logits.dtypeInternal(), 1.0, new int[] {s[0]});
        Tensor slope = ArithmeticOps.raw(BinaryOp.MUL, gradient(logits, labels, ones, false), tangent, s);
        return ReductionOps.reduceRaw(ReduceOp.SUM, slope, 1).view(new int[] {s[0]});
    }

    /**
     * The labels backward hands the backend: the caller's own array while it still holds the
     * forward's labels (a CUDA graph capture reads that array again at each replay), else the copy.
     */
    private static int[] current(int[] callers, int[] copy) {
        return Arrays.equals(callers, copy) ? callers : copy;
    }

    /** The per-row gradient g[r] * (p - onehot), or with {@code mean} the mean's, (g[0] / rows) * (p - onehot). */
    private static Tensor gradient(Tensor logits, int[] labels, Tensor g, boolean mean) {
        int[] s = logits.shapeInternal();
        Backend backend = logits.backendInternal();
        Tensor out = Tensor.empty(backend, logits.dtypeInternal(), s);
        if (mean) {
            backend.crossEntropyMeanBackward(logits.storage(), labels, g.storage(), out.storage(), s[0], s[1]);
        } else {
            backend.crossEntropyBackward(logits.storage(), labels, g.storage(), out.storage(), s[0], s[1]);
        }
        Reference.reachabilityFence(logits);
        Reference.reachabilityFence(g);
        return out;
    }
}
