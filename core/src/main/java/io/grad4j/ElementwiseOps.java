package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.CounterStream;
import io.grad4j.backend.UnaryOp;

import java.lang.ref.Reference;
import java.util.Locale;

/**
 * Elementwise functions y = f(x): neg, exp, log, sqrt, abs, tanh, sigmoid, relu, pow, the
 * scalar add/mul, erf, sin, cos and GELU (erf and tanh forms). Their Jacobian is diagonal, diag(f'(x)), so both modes are one fused product that
 * the backend computes in a single pass (the formulas for f' are listed in {@link UnaryOp}):
 * <pre>
 *   forward:  y      = f(x)
 *   VJP:      x_grad = g * f'(x)      (g: upstream gradient)
 *   JVP:      y_dot  = f'(x) * x_dot  (same product: a diagonal Jacobian is its own transpose)
 * </pre>
 * Dropout is elementwise too, with a mask m drawn from (seed, p) ({@link Backend#dropout}):
 * <pre>
 *   y = x * m          x_grad = g * m          y_dot = x_dot * m
 * </pre>
 * all three the same backend call, the mask recomputed from the seed rather than saved.
 */
final class ElementwiseOps {
    private ElementwiseOps() {
    }

    static Tensor apply(UnaryOp op, double param, Tensor input) {
        input.requireFloatingPoint(op.name().toLowerCase(Locale.ROOT));
        Tensor x = input.forKernel();
        Backend backend = x.backendInternal();
        Tensor y = Tensor.empty(backend, x.dtypeInternal(), x.shapeInternal());
        backend.unary(op, param, x.storage(), y.storage());
        Reference.reachabilityFence(x);
        Tensor recorded = Graph.record(op.name().toLowerCase(Locale.ROOT), y, new Tensor[] {x},
                new Tensor[] {op.derivativeNeedsInput() ? x : null, op.derivativeNeedsOutput() ? y : null},
                g -> new Tensor[] {derivativeTimes(op, param, x, y, g)},
                t -> derivativeTimes(op, param, x, y, t[0]));
        return recorded.gradFn() == null ? recorded
                : recorded.withRule(g -> new Tensor[] {derivativeRule(op, param, x, y, g)});
    }

    /**
     * g * f'(x) in differentiable operations (the formulas of {@link UnaryOp}), so a gradient can
     * be differentiated again: f' is written in x or in y = f(x) (whose history leads back to x).
     * Where f'' is 0 almost everywhere (abs, relu) f'(x) enters as a constant, computed by the
     * fused kernel from a gradient of ones.
     */
    static Tensor derivativeRule(UnaryOp op, double p, Tensor x, Tensor y, Tensor g) {
        return switch (op) {
            case NEG -> g.neg();
            case EXP -> g.mul(y);
            case LOG -> g.div(x);
            case SQRT -> g.div(y).mul(0.5);
            case TANH -> g.mul(y.mul(y).neg().add(1.0));
            case SIGMOID -> g.mul(y.mul(y.neg().add(1.0)));
            case POW -> p == 0 ? g.mul(0.0) : g.mul(x.pow(p - 1).mul(p));
            case ADD_SCALAR -> g;
            case MUL_SCALAR -> g.mul(p);
            case ERF -> g.mul(x.mul(x).neg().exp().mul(2 / Math.sqrt(Math.PI)));
            case SIN -> g.mul(x.cos());
            case COS -> g.mul(x.sin().neg());
            case GELU -> g.mul(x.mul(Math.sqrt(0.5)).erf().add(1.0).mul(0.5)
                    .add(x.mul(x.mul(x).mul(-0.5).exp().mul(1 / Math.sqrt(2 * Math.PI)))));
            case GELU_TANH -> {
                double beta = Math.sqrt(2 / Math.PI);
                Tensor t = x.add(x.pow(3).mul(0.044715)).mul(beta).tanh();
                Tensor inner = x.mul(x).mul(3 * 0.044715).add(1.0).mul(beta);
                yield g.mul(t.add(1.0).mul(0.5).add(x.mul(0.5).mul(t.mul(t).neg().add(1.0)).mul(inner)));
            }
            case ABS, RELU -> {
                Tensor slope;
                try (io.grad4j.autograd.NoGrad ignored = io.grad4j.autograd.Autograd.noGrad()) {
                    Tensor ones = Tensor.full(x.backendInternal(), x.dtypeInternal(), 1.0, x.shapeInternal());
                    slope = derivativeTimes(op, p, x.detach(), y.detach(), ones);
                }
                yield g.mul(slope);
            }
        };
    }

    static Tensor dropout(Tensor input, double p, long seed) {
        input.requireFloatingPoint("dropout");
        Tensor x = input.forKernel();
        CounterStream.keepFrom(p); // rejects p outside [0, 1) before any work
        Tensor y = masked(x, p, seed);
        return Graph.record("dropout", y, x,
                g -> new Tensor[] {masked(g, p, seed)},
                t -> masked(t[0], p, seed))
                .withRule(g -> new Tensor[] {g.dropout(p, seed)});
    }

    /** v times the dropout mask of (seed, p), computed by the backend in one pass. */
    private static Tensor masked(Tensor v, double p, long seed) {
        Backend backend = v.backendInternal();
        Tensor out = Tensor.empty(backend, v.dtypeInternal(), v.shapeInternal());
        Tensor vd = v.denseRaw();
        backend.dropout(seed, p, vd.storage(), out.storage());
        vd.closeIfCopyOf(v);
        Reference.reachabilityFence(v);
        return out;
    }

    /** f(x) without history, for any layout of x. */
    static Tensor raw(UnaryOp op, double param, Tensor x) {
        Backend backend = x.backendInternal();
        Tensor out = Tensor.empty(backend, x.dtypeInternal(), x.shapeInternal());
        Tensor xd = x.denseRaw();
        backend.unary(op, param, xd.storage(), out.storage());
        xd.closeIfCopyOf(x);
        Reference.reachabilityFence(x);
        return out;
    }

    /** v * f'(x), computed by the backend's fused backward kernel. */
    static Tensor derivativeTimes(UnaryOp op, double param, Tensor x, Tensor y, Tensor v) {
        Backend backend = x.backendInternal();
        Tensor out = Tensor.empty(backend, x.dtypeInternal(), x.shapeInternal());
        Tensor vd = v.denseRaw();
        backend.unaryBackward(op, param, x.storage(), y.storage(), vd.storage(), out.storage());
        vd.closeIfCopyOf(v);
        Reference.reachabilityFence(x);
        Reference.reachabilityFence(y);
        Reference.reachabilityFence(v);
        return out;
    }
}
