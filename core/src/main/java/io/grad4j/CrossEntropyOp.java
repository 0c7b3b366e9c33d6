package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.ReduceOp;

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
 */
final class CrossEntropyOp {
    private CrossEntropyOp() {
    }

    static Tensor perRow(Tensor logits, int[] labels) {
        logits.checkOpen();
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
        int[] y = labels.clone(); // the caller may reuse its array before backward runs
        Backend backend = logits.backendInternal();
        Tensor loss = Tensor.empty(backend, logits.dtypeInternal(), new int[] {rows});
        // The backend gets the caller's own array, and so does backward while it still holds the
        // same labels: a CUDA graph capture records the array it is handed as the step's input and
        // reads it again at every replay, so a copy would freeze the first batch's labels.
        backend.crossEntropy(logits.storage(), labels, loss.storage(), rows, classes);
        Reference.reachabilityFence(logits);
        return Graph.record("crossEntropy", loss, logits,
                g -> new Tensor[] {gradient(logits, Arrays.equals(labels, y) ? labels : y, g)},
                t -> {
                    Tensor ones = Tensor.full(backend, logits.dtypeInternal(), 1.0, new int[] {rows});
                    Tensor slope = ArithmeticOps.raw(BinaryOp.MUL, gradient(logits, y, ones), t[0], s);
                    return ReductionOps.reduceRaw(ReduceOp.SUM, slope, 1).view(new int[] {rows});
                });
    }

    private static Tensor gradient(Tensor logits, int[] labels, Tensor g) {
        int[] s = logits.shapeInternal();
        Backend backend = logits.backendInternal();
        Tensor out = Tensor.empty(backend, logits.dtypeInternal(), s);
        backend.crossEntropyBackward(logits.storage(), labels, g.storage(), out.storage(), s[0], s[1]);
        Reference.reachabilityFence(logits);
        Reference.reachabilityFence(g);
        return out;
    }
}
