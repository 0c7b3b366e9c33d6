package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.ReduceOp;
import io.grad4j.backend.UnaryOp;

import java.lang.ref.Reference;

/**
 * softmax and log-softmax along an axis, computed max-subtracted by the backend so that large
 * logits neither overflow nor lose the gradient. With s = softmax(x) and y the output:
 * <pre>
 *   softmax:     x_grad = s * (g - sum(g * s))      y_dot = s * (x_dot - sum(x_dot * s))
 *                (the Jacobian diag(s) - s s^T is symmetric, so VJP and JVP are one kernel)
 *   log-softmax: x_grad = g - s * sum(g)            y_dot = x_dot - sum(s * x_dot)
 * </pre>
 */
final class SoftmaxOps {
    private SoftmaxOps() {
    }

    static Tensor softmax(Tensor input, int axis, boolean log) {
        input.requireFloatingPoint(log ? "logSoftmax" : "softmax");
        Tensor x = input.forKernel();
        int[] shape = x.shapeInternal();
        long outer = ReductionOps.outer(shape, axis);
        int len = shape[axis];
        long inner = ReductionOps.inner(shape, axis);
        Backend backend = x.backendInternal();
        Tensor y = Tensor.empty(backend, x.dtypeInternal(), shape);
        backend.softmax(x.storage(), y.storage(), outer, len, inner, log);
        Reference.reachabilityFence(x);
        return Graph.record(log ? "logSoftmax" : "softmax", y, new Tensor[] {x}, new Tensor[] {y},
                g -> new Tensor[] {backwardKernel(y, g, outer, len, inner, log)},
                t -> log ? logSoftmaxJvp(y, t[0], axis) : backwardKernel(y, t[0], outer, len, inner, false))
                .withRule(g -> new Tensor[] {log
                        ? g.sub(y.exp().mul(g.sum(axis, true)))      // g - softmax * sum(g)
                        : y.mul(g.sub(g.mul(y).sum(axis, true)))});   // y * (g - sum(g * y))
    }

    private static Tensor backwardKernel(Tensor y, Tensor g, long outer, int len, long inner, boolean log) {
        Backend backend = y.backendInternal();
        Tensor out = Tensor.empty(backend, y.dtypeInternal(), y.shapeInternal());
        Tensor gd = g.denseRaw();
        backend.softmaxBackward(y.storage(), gd.storage(), out.storage(), outer, len, inner, log);
        gd.closeIfCopyOf(g);
        Reference.reachabilityFence(y);
        Reference.reachabilityFence(g);
        return out;
    }

    private static Tensor logSoftmaxJvp(Tensor logProbs, Tensor t, int axis) {
        int[] shape = logProbs.shapeInternal();
        Tensor probs = ElementwiseOps.apply(UnaryOp.EXP, 0, logProbs);
        Tensor weighted = ArithmeticOps.raw(BinaryOp.MUL, probs, t, shape);
        Tensor mean = ReductionOps.reduceRaw(ReduceOp.SUM, weighted, axis);
        return ArithmeticOps.raw(BinaryOp.SUB, t, mean, shape);
    }
}
