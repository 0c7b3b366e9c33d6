package io.grad4j.autograd;

import io.grad4j.DType;
import io.grad4j.Engine;
import io.grad4j.Tensor;
import io.grad4j.backend.Backends;
import io.grad4j.backend.ElementCount;

import java.util.Arrays;
import java.util.Objects;
import java.util.function.Function;

/**
 * Gradients as functions, in the style of JAX: {@link #grad}, {@link #vjp} (reverse mode),
 * {@link #jvp} (forward mode), {@link #jacobian}; plus the {@link #noGrad()} scope, anomaly
 * detection and user-defined operations ({@link #apply}).
 */
public final class Autograd {
    private Autograd() {
    }

    /**
     * d output / d input for each input; output must hold one element. Inputs may be leaves or
     * intermediates of the graph; an input output does not depend on gets zeros. Leaves'
     * {@code grad()} is left untouched. The graph is freed afterwards.
     */
    public static Tensor[] grad(Tensor output, Tensor... inputs) {
        if (output.numel() != 1) {
            throw new IllegalArgumentException("Autograd.grad needs an output with one element, got shape "
                    + Arrays.toString(output.shape()) + "; use vjp for other outputs");
        }
        return grad(output, seed(output, 1.0), false, inputs);
    }

    /** Like {@link #grad(Tensor, Tensor...)} with an explicit upstream gradient and graph retention. */
    public static Tensor[] grad(Tensor output, Tensor upstream, boolean retainGraph, Tensor... inputs) {
        if (!Arrays.equals(upstream.shape(), output.shape())) {
            throw new IllegalArgumentException("Autograd.grad: upstream has shape " + Arrays.toString(upstream.shape())
                    + " but the output has shape " + Arrays.toString(output.shape()));
        }
        Tensor[] grads = Engine.gradients(output, upstream, retainGraph, inputs);
        for (int i = 0; i < grads.length; i++) {
            if (grads[i] == null) {
                grads[i] = zerosLike(inputs[i]);
            }
        }
        return grads;
    }

    /**
     * d output / d input for each input, as {@link #grad(Tensor, Tensor...)}; with
     * {@code createGraph} the backward pass runs every operation's gradient rule in differentiable
     * operations and records it, so the gradients returned can be differentiated again (second
     * derivatives, Hessian-vector products, gradient penalties), and the graph is kept. An
     * operation without such a rule (a user's {@link CustomFunction} has its own backward as one)
     * makes the pass fail with its name.
     */
    public static Tensor[] grad(Tensor output, Tensor[] inputs, boolean createGraph) {
        if (output.numel() != 1) {
            throw new IllegalArgumentException("Autograd.grad needs an output with one element, got shape "
                    + Arrays.toString(output.shape()) + "; use vjp for other outputs");
        }
        Tensor[] grads = Engine.gradients(output, seed(output, 1.0), createGraph, createGraph, inputs);
        for (int i = 0; i < grads.length; i++) {
            if (grads[i] == null) {
                grads[i] = zerosLike(inputs[i]);
            }
        }
        return grads;
    }

    /**
     * The Hessian of a scalar f at x times v, shape of x: the gradient of {@code grad f(x) . v},
     * by reverse mode over a reverse pass built with {@code createGraph} (exact, no step size).
     */
    public static Tensor hvp(Function<Tensor, Tensor> f, Tensor x, Tensor v) {
        Objects.requireNonNull(f, "f");
        if (!Arrays.equals(x.shape(), v.shape()) || x.dtype() != v.dtype() || x.backend() != v.backend()) {
            throw new IllegalArgumentException("hvp: v is " + v.dtype() + " " + Arrays.toString(v.shape()) + " on "
                    + v.backend().name() + " but x is " + x.dtype() + " " + Arrays.toString(x.shape()) + " on "
                    + x.backend().name() + "; they must match");
        }
        try (NoGrad ignored = enableGrad()) { // the two passes need history, wherever hvp is called
            Tensor leaf = x.detach().requiresGrad(true);
            Tensor y = f.apply(leaf);
            if (y.numel() != 1) {
                throw new IllegalArgumentException("hvp: f must return one element (a scalar function), got shape "
                        + Arrays.toString(y.shape()));
            }
            Tensor gradient = grad(y, new Tensor[] {leaf}, true)[0];
            Tensor directional = gradient.mul(v).sum(); // grad f . v, still a function of x
            return grad(directional, new Tensor[] {leaf}, false)[0];
        }
    }

    /** v^T J of f at x (reverse mode); v has f(x)'s shape, the result x's shape. */
    public static Tensor vjp(Function<Tensor, Tensor> f, Tensor x, Tensor v) {
        Tensor leaf = x.detach().requiresGrad(true);
        Tensor y = f.apply(leaf);
        if (!Arrays.equals(v.shape(), y.shape())) {
            throw new IllegalArgumentException("vjp: v has shape " + Arrays.toString(v.shape())
                    + " but f(x) has shape " + Arrays.toString(y.shape()));
        }
        return grad(y, v, false, leaf)[0];
    }

    /** J v of f at x (forward mode, one pass with dual numbers); v has x's shape, the result f(x)'s. */
    public static Tensor jvp(Function<Tensor, Tensor> f, Tensor x, Tensor v) {
        return Engine.pushForward(f, x, v)[1];
    }

    /** The Jacobian of f at x, shape f(x).shape ++ x.shape, built row by row from VJPs. */
    public static Tensor jacobian(Function<Tensor, Tensor> f, Tensor x) {
        return jacobian(f, x, JacobianMode.REVERSE);
    }

    /** The Jacobian of f at x, from VJPs (rows) or JVPs (columns); both give the same matrix. */
    public static Tensor jacobian(Function<Tensor, Tensor> f, Tensor x, JacobianMode mode) {
        Objects.requireNonNull(mode, "mode");
        int n = jacobianSize(1, x.numel());
        double[] jac;
        int[] yShape;
        if (mode == JacobianMode.REVERSE) {
            Tensor leaf = x.detach().requiresGrad(true);
            Tensor y = f.apply(leaf);
            yShape = y.shape();
            jac = new double[jacobianSize(y.numel(), n)];
            int m = jacobianSize(y.numel(), 1);
            for (int i = 0; i < m; i++) {
                Tensor row = grad(y, basis(y, i), i < m - 1, leaf)[0];
                System.arraycopy(row.toDoubleArray(), 0, jac, i * n, n);
            }
        } else {
            try (NoGrad ignored = noGrad()) { // the output's size first: refuse before n passes, not after
                yShape = f.apply(x).shape();
            }
            jac = new double[jacobianSize(numel(yShape), n)];
            int m = jacobianSize(numel(yShape), 1);
            for (int j = 0; j < n; j++) {
                Tensor[] yt = Engine.pushForward(f, x, basis(x, j));
                double[] column = yt[1].toDoubleArray();
                for (int i = 0; i < m; i++) {
                    jac[i * n + j] = column[i];
                }
            }
        }
        int[] xShape = x.shape();
        int[] shape = Arrays.copyOf(yShape, yShape.length + xShape.length);
        System.arraycopy(xShape, 0, shape, yShape.length, xShape.length);
        try (Backends.Scope ignored = Backends.use(x.backend())) {
            return Tensor.of(jac, shape).to(x.dtype());
        }
    }

    /** A scope in which operations record no history (thread-local; scopes nest). */
    public static NoGrad noGrad() {
        return GradMode.enterNoGrad();
    }

    /**
     * A scope in which operations record history again, inside a {@link #noGrad()} scope too
     * (PyTorch's {@code enable_grad}): for a function that takes gradients itself, evaluated by
     * code that turned history off. Closing it restores the state it found.
     */
    public static NoGrad enableGrad() {
        return GradMode.enterEnableGrad();
    }

    /**
     * A scope in which every backward step checks the gradients it produced and throws an
     * {@link ArithmeticException} naming the first operation whose backward gave NaN or Inf.
     * Costs a host copy per gradient: for debugging.
     */
    public static NoGrad detectAnomaly() {
        return GradMode.enterAnomaly();
    }

    /** Applies a user-defined operation so that gradients flow through its {@code backward}. */
    public static Tensor apply(CustomFunction fn, Tensor... inputs) {
        Objects.requireNonNull(fn, "fn");
        Tensor out;
        try (NoGrad ignored = noGrad()) {
            out = fn.forward(inputs);
        }
        if (out == null) {
            throw new IllegalStateException(fn.getClass().getName() + ".forward returned null");
        }
        Tensor result = out;
        return Engine.recordCustom(fn.getClass().getSimpleName(), out, inputs, g -> {
            Tensor[] grads = fn.backward(inputs, result, g);
            if (grads == null || grads.length != inputs.length) {
                throw new IllegalStateException(fn.getClass().getName() + ".backward must return one gradient per input ("
                        + inputs.length + "), got " + (grads == null ? "null" : grads.length));
            }
            return grads;
        });
    }

    static Tensor seed(Tensor like, double value) {
        try (Backends.Scope ignored = Backends.use(like.backend())) {
            return Tensor.full(like.dtype(), value, like.shape());
        }
    }

    static Tensor zerosLike(Tensor like) {
        return seed(like, 0.0);
    }

    /** One-hot tensor with like's shape, dtype and backend. */
    static Tensor basis(Tensor like, int index) {
        double[] e = new double[Math.toIntExact(like.numel())];
        e[index] = 1.0;
        try (Backends.Scope ignored = Backends.use(like.backend())) {
            Tensor t = Tensor.of(e, like.shape());
            return like.dtype() == DType.FLOAT64 ? t : t.to(like.dtype());
        }
    }

    private static long numel(int[] shape) {
        return ElementCount.of("jacobian", shape);
    }

    /**
     * The Jacobian's element count, outputs x inputs, when one Java array holds it (the Jacobian
     * is assembled on the host); otherwise an IllegalArgumentException with both sizes and the
     * limit, rather than Math's bare "integer overflow".
     */
    static int jacobianSize(long outputs, long inputs) {
        long limit = Integer.MAX_VALUE - 8;
        return (int) ElementCount.times("jacobian: " + outputs + " outputs x " + inputs + " inputs", outputs, inputs, limit,
                "one Java array holds (the Jacobian is built on the host; take vjp or jvp products of the rows or "
                        + "columns you need instead)");
    }
}
