package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.UnaryOp;

import java.lang.ref.Reference;
import java.util.Locale;

/**
 * Elementwise functions y = f(x): neg, exp, log, sqrt, abs, tanh, sigmoid, relu, pow and the
 * scalar add/mul. Their Jacobian is diagonal, diag(f'(x)), so both modes are one fused product that
 * the backend computes in a single pass (the formulas for f' are listed in {@link UnaryOp}):
 * <pre>
 *   forward:  y      = f(x)
 *   VJP:      x_grad = g * f'(x)      (g: upstream gradient)
 *   JVP:      y_dot  = f'(x) * x_dot  (same product: a diagonal Jacobian is its own transpose)
 * </pre>
 */
final class ElementwiseOps {
    private ElementwiseOps() {
    }

    static Tensor apply(UnaryOp op, double param, Tensor x) {
        x.checkOpen();
        Backend backend = x.backendInternal();
        Tensor y = Tensor.empty(backend, x.dtypeInternal(), x.shapeInternal());
        backend.unary(op, param, x.storage(), y.storage());
        Reference.reachabilityFence(x);
        return Graph.record(op.name().toLowerCase(Locale.ROOT), y, x,
                g -> new Tensor[] {derivativeTimes(op, param, x, y, g)},
                t -> derivativeTimes(op, param, x, y, t[0]));
    }

    /** v * f'(x), computed by the backend's fused backward kernel. */
    static Tensor derivativeTimes(UnaryOp op, double param, Tensor x, Tensor y, Tensor v) {
        Backend backend = x.backendInternal();
        Tensor out = Tensor.empty(backend, x.dtypeInternal(), x.shapeInternal());
        backend.unaryBackward(op, param, x.storage(), y.storage(), v.storage(), out.storage());
        Reference.reachabilityFence(x);
        Reference.reachabilityFence(y);
        Reference.reachabilityFence(v);
        return out;
    }
}
