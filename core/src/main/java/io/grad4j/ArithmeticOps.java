package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.UnaryOp;

import java.lang.ref.Reference;
import java.util.Locale;

/**
 * a (+ - * /) b with NumPy broadcasting. Gradients that cost work are only computed for inputs
 * that require them (a constant operand, like a mask or an input batch, gets none). Each rule is written for the broadcast shape; the
 * gradient of a broadcast operand is the sum over its broadcast axes ({@link ReductionOps#sumTo}).
 * <pre>
 *   add: a_grad = g          b_grad = g            y_dot = a_dot + b_dot
 *   sub: a_grad = g          b_grad = -g           y_dot = a_dot - b_dot
 *   mul: a_grad = g * b      b_grad = g * a        y_dot = a_dot * b + a * b_dot
 *   div: a_grad = g / b      b_grad = -g * y / b   y_dot = (a_dot - y * b_dot) / b
 * </pre>
 */
final class ArithmeticOps {
    private ArithmeticOps() {
    }

    static Tensor apply(BinaryOp op, Tensor first, Tensor second) {
        String name = op.name().toLowerCase(Locale.ROOT);
        Tensor.checkCompatible(name, first, second);
        first.requireFloatingPoint(name);
        Tensor a = first.forKernel();
        Tensor b = second.forKernel();
        int[] outShape = BroadcastShape.of(name, a.shapeInternal(), b.shapeInternal());
        Tensor y = raw(op, a, b, outShape);
        // read once, here: the saved tensors below depend on them, so the backward must not
        // compute a gradient a later requiresGrad(true) asks for from an operand nobody saved
        boolean aNeedsGrad = a.requiresGradInternal();
        boolean bNeedsGrad = b.requiresGradInternal();
        Tensor recorded = switch (op) {
            case ADD -> Graph.record(name, y, a, b,
                    g -> new Tensor[] {ReductionOps.sumTo(g, a.shapeInternal()), ReductionOps.sumTo(g, b.shapeInternal())},
                    t -> raw(BinaryOp.ADD, t[0], t[1], outShape));
            case SUB -> Graph.record(name, y, a, b,
                    g -> new Tensor[] {ReductionOps.sumTo(g, a.shapeInternal()),
                            ReductionOps.sumTo(ElementwiseOps.apply(UnaryOp.NEG, 0, g), b.shapeInternal())},
                    t -> raw(BinaryOp.SUB, t[0], t[1], outShape));
            case MUL -> Graph.record(name, y, new Tensor[] {a, b},
                    new Tensor[] {bNeedsGrad ? a : null, aNeedsGrad ? b : null},
                    g -> new Tensor[] {
                            aNeedsGrad ? ReductionOps.sumTo(raw(BinaryOp.MUL, g, b, outShape), a.shapeInternal()) : null,
                            bNeedsGrad ? ReductionOps.sumTo(raw(BinaryOp.MUL, g, a, outShape), b.shapeInternal()) : null},
                    t -> raw(BinaryOp.ADD, raw(BinaryOp.MUL, t[0], b, outShape), raw(BinaryOp.MUL, a, t[1], outShape), outShape));
            case DIV -> Graph.record(name, y, new Tensor[] {a, b}, new Tensor[] {b, bNeedsGrad ? y : null},
                    g -> {
                        Tensor gOverB = raw(BinaryOp.DIV, g, b, outShape);
                        Tensor bGrad = bNeedsGrad
                                ? ReductionOps.sumTo(ElementwiseOps.apply(UnaryOp.NEG, 0, raw(BinaryOp.MUL, gOverB, y, outShape)),
                                        b.shapeInternal())
                                : null;
                        return new Tensor[] {aNeedsGrad ? ReductionOps.sumTo(gOverB, a.shapeInternal()) : null, bGrad};
                    },
                    t -> raw(BinaryOp.DIV, raw(BinaryOp.SUB, t[0], raw(BinaryOp.MUL, y, t[1], outShape), outShape), b, outShape));
        };
        if (recorded.gradFn() == null) {
            return recorded; // no history: no rule to keep (and no allocation on the inference path)
        }
        int[] aShape = a.shapeInternal();
        int[] bShape = b.shapeInternal();
        // the same rules in differentiable operations, for gradients that are differentiated again
        return recorded.withRule(switch (op) {
            case ADD -> g -> new Tensor[] {ReductionOps.sumToDifferentiable(g, aShape), ReductionOps.sumToDifferentiable(g, bShape)};
            case SUB -> g -> new Tensor[] {ReductionOps.sumToDifferentiable(g, aShape),
                    ReductionOps.sumToDifferentiable(g.neg(), bShape)};
            case MUL -> g -> new Tensor[] {aNeedsGrad ? ReductionOps.sumToDifferentiable(g.mul(b), aShape) : null,
                    bNeedsGrad ? ReductionOps.sumToDifferentiable(g.mul(a), bShape) : null};
            case DIV -> g -> new Tensor[] {aNeedsGrad ? ReductionOps.sumToDifferentiable(g.div(b), aShape) : null,
                    bNeedsGrad ? ReductionOps.sumToDifferentiable(g.mul(y).div(b).neg(), bShape) : null};
        });
    }

    /** The broadcast elementwise kernel without history; operands must broadcast to outShape. */
    static Tensor raw(BinaryOp op, Tensor a, Tensor b, int[] outShape) {
        Backend backend = a.backendInternal();
        Tensor out = Tensor.empty(backend, a.dtypeInternal(), outShape);
        Tensor ad = a.denseRaw();
        Tensor bd = b.denseRaw();
        backend.binary(op, ad.storage(), BroadcastShape.strides(a.shapeInternal(), outShape),
                bd.storage(), BroadcastShape.strides(b.shapeInternal(), outShape), out.storage(), outShape);
        ad.closeIfCopyOf(a);
        bd.closeIfCopyOf(b);
        Reference.reachabilityFence(a);
        Reference.reachabilityFence(b);
        return out;
    }

}
