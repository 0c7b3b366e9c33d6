package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

/**
 * Random expression graphs over the whole differentiable Tensor API, shape-correct by
 * construction, for fuzzing autograd. An expression is built top-down from the shape it must
 * produce; each node knows its readable text ({@code tanh(x0[2,3] @ x1[3])}), its shape, its
 * children and how to compute itself.
 *
 * <p>Domains are kept by construction where that is cheap (log, sqrt and negative powers see
 * {@code e*e+0.5}, divisors likewise) and otherwise by a {@link Guard}: a case is rejected when, at
 * its inputs, an argument of abs/relu lies near the kink, a max has a near-tie, exp gets a large
 * argument, or any value grows beyond 1e3 (where central differences lose their digits).
 */
public final class RandomExpressions {
    /** Largest value a case may produce anywhere; beyond it gradcheck's tolerances do not hold. */
    static final double VALUE_LIMIT = 1e3;
    /** Distance kept from the kink of abs/relu and between the two largest entries of a max. */
    static final double KINK_MARGIN = 1e-3;

    private RandomExpressions() {
    }

    /** How a node computes its value from its children's values. */
    @FunctionalInterface
    interface Compute {
        Tensor apply(Tensor[] kids, Guard guard);
    }

    /** One node of an expression. Leaves are differentiable inputs (x0, x1, ...) or constants (c0, ...). */
    public static final class Expr {
        final int[] shape;
        final Expr[] kids;
        final Compute compute;
        final Function<String[], String> text;
        final int input;     // index into the case's inputs, or -1
        final int constant;  // index into the case's constants, or -1

        Expr(int[] shape, Expr[] kids, Compute compute, Function<String[], String> text) {
            this(shape, kids, compute, text, -1, -1);
        }

        private Expr(int[] shape, Expr[] kids, Compute compute, Function<String[], String> text, int input, int constant) {
            this.shape = shape;
            this.kids = kids;
            this.compute = compute;
            this.text = text;
            this.input = input;
            this.constant = constant;
        }

        static Expr input(int index, int[] shape) {
            return new Expr(shape, new Expr[0], null, k -> "x" + index + dims(shape), index, -1);
        }

        static Expr constant(int index, int[] shape) {
            return new Expr(shape, new Expr[0], null, k -> "c" + index + dims(shape), -1, index);
        }

        public int[] shape() {
            return shape.clone();
        }

        /** The value at these inputs and constants; the guard sees every intermediate. */
        Tensor eval(Tensor[] inputs, Tensor[] constants, Guard guard) {
            if (input >= 0) {
                return inputs[input];
            }
            if (constant >= 0) {
                return constants[constant];
            }
            Tensor[] values = new Tensor[kids.length];
            for (int i = 0; i < kids.length; i++) {
                values[i] = kids[i].eval(inputs, constants, guard);
            }
            Tensor out = compute.apply(values, guard);
            guard.bounded("result of " + this, out, VALUE_LIMIT);
            return out;
        }

        /** Every node of this expression, children before parents. */
        List<Expr> postOrder() {
            List<Expr> out = new ArrayList<>();
            for (Expr k : kids) {
                out.addAll(k.postOrder());
            }
            out.add(this);
            return out;
        }

        int size() {
            int n = 1;
            for (Expr k : kids) {
                n += k.size();
            }
            return n;
        }

        /** The operation at this node ("tanh", "matmul", "+", "scalar *", "input", ...), for coverage statistics. */
        String opName() {
            if (input >= 0) {
                return "input";
            }
            if (constant >= 0) {
                return "constant";
            }
            String[] blanks = new String[kids.length];
            Arrays.fill(blanks, "_");
            String t = text.apply(blanks);
            if (t.startsWith("-(")) {
                return "neg";
            }
            java.util.regex.Matcher word = java.util.regex.Pattern.compile("^([a-zA-Z]+)\\(").matcher(t);
            if (word.find()) {
                return word.group(1);
            }
            java.util.regex.Matcher op = java.util.regex.Pattern.compile("^\\(_ ([-+*/]) ([-0-9]?)").matcher(t);
            if (op.find()) {
                return (op.group(2).isEmpty() ? "" : "scalar ") + op.group(1);
            }
            return t;
        }

        @Override
        public String toString() {
            String[] k = new String[kids.length];
            for (int i = 0; i < k.length; i++) {
                k[i] = kids[i].toString();
            }
            return text.apply(k);
        }
    }

    /**
     * Watches a case's intermediates during a checking pass (inside noGrad) and records the first
     * reason the case lies outside the region where numeric differentiation is meaningful.
     * {@link #OFF} watches nothing.
     */
    static final class Guard {
        static final Guard OFF = new Guard(false);

        private final boolean active;
        private String violation;

        Guard(boolean active) {
            this.active = active;
        }

        static Guard watching() {
            return new Guard(true);
        }

        String violation() {
            return violation;
        }

        private void violate(String why) {
            if (violation == null) {
                violation = why;
            }
        }

        void bounded(String what, Tensor t, double limit) {
            if (!active || violation != null) {
                return;
            }
            for (double v : t.toDoubleArray()) {
                if (!(Math.abs(v) <= limit)) {
                    violate(what + " has " + v + " (limit " + limit + ")");
                    return;
                }
            }
        }

        void awayFromZero(String what, Tensor t) {
            if (!active || violation != null) {
                return;
            }
            for (double v : t.toDoubleArray()) {
                if (Math.abs(v) < KINK_MARGIN) {
                    violate(what + " has argument " + v + " at its kink");
                    return;
                }
            }
        }

        /** The largest entry along axis leads the second by at least the margin, in every row. */
        void noNearTies(String what, Tensor t, int axis) {
            if (!active || violation != null) {
                return;
            }
            int[] s = t.shape();
            int len = s[axis];
            if (len < 2) {
                return;
            }
            long inner = NaiveReference.numel(Arrays.copyOfRange(s, axis + 1, s.length));
            long outer = NaiveReference.numel(Arrays.copyOfRange(s, 0, axis));
            double[] v = t.toDoubleArray();
            for (long o = 0; o < outer; o++) {
                for (long i = 0; i < inner; i++) {
                    double best = Double.NEGATIVE_INFINITY;
                    double second = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < len; j++) {
                        double x = v[(int) ((o * len + j) * inner + i)];
                        if (x > best) {
                            second = best;
                            best = x;
                        } else if (x > second) {
                            second = x;
                        }
                    }
                    if (best - second < KINK_MARGIN) {
                        violate(what + " has a near-tie " + best + " vs " + second);
                        return;
                    }
                }
            }
        }
    }

    /** A generated case: the expression, and the values of its inputs and constants. */
    public record Case(long seed, Expr root, List<double[]> inputValues, List<int[]> inputShapes,
                       List<double[]> constantValues, List<int[]> constantShapes, int rejected) {

        Tensor[] inputs() {
            return inputs(DType.FLOAT64);
        }

        /** The inputs in a dtype (FLOAT32 rounds the values). */
        Tensor[] inputs(DType dtype) {
            return tensors(inputValues, inputShapes, dtype);
        }

        Tensor[] constants() {
            return tensors(constantValues, constantShapes, DType.FLOAT64);
        }

        private static Tensor[] tensors(List<double[]> values, List<int[]> shapes, DType dtype) {
            Tensor[] t = new Tensor[values.size()];
            for (int i = 0; i < t.length; i++) {
                Tensor d = Tensor.of(values.get(i), shapes.get(i));
                t[i] = dtype == DType.FLOAT64 ? d : d.to(dtype);
            }
            return t;
        }

        /** root as a function of the inputs (constants fixed), guard off: what gradcheck differentiates. */
        Function<Tensor[], Tensor> function(Expr expr) {
            return function(expr, DType.FLOAT64);
        }

        /** The same, computing in dtype (its inputs must be of that dtype). */
        Function<Tensor[], Tensor> function(Expr expr, DType dtype) {
            Tensor[] c = tensors(constantValues, constantShapes, dtype);
            return in -> expr.eval(in, c, Guard.OFF);
        }

        /** Why this expression is outside the safe region at these inputs, or null. */
        String violation(Expr expr) {
            Guard g = Guard.watching();
            try (NoGrad ignored = Autograd.noGrad()) {
                expr.eval(inputs(), constants(), g);
            }
            return g.violation();
        }

        /** A reproducer: the expression, every leaf's shape and values, and how to rerun it. */
        String describe(Expr expr) {
            StringBuilder sb = new StringBuilder();
            sb.append("  expression: ").append(expr).append(" -> shape ").append(Arrays.toString(expr.shape)).append('\n');
            List<Expr> leaves = expr.postOrder();
            boolean[] seenInput = new boolean[inputValues.size()];
            boolean[] seenConstant = new boolean[constantValues.size()];
            for (Expr e : leaves) {
                if (e.input >= 0 && !seenInput[e.input]) {
                    seenInput[e.input] = true;
                    sb.append("  x").append(e.input).append(' ').append(Arrays.toString(inputShapes.get(e.input)))
                            .append(" = ").append(Arrays.toString(inputValues.get(e.input))).append('\n');
                } else if (e.constant >= 0 && !seenConstant[e.constant]) {
                    seenConstant[e.constant] = true;
                    sb.append("  c").append(e.constant).append(' ').append(Arrays.toString(constantShapes.get(e.constant)))
                            .append(" = ").append(Arrays.toString(constantValues.get(e.constant))).append('\n');
                }
            }
            sb.append("  seed ").append(seed).append(" (rerun just this case: -Dgrad4j.fuzz.seed=").append(seed)
                    .append(" -Dgrad4j.fuzz.tries=1)");
            return sb.toString();
        }
    }

    /**
     * The case for a seed: a random expression of depth 2..maxDepth whose inputs hold at most about
     * {@code inputBudget} elements (further leaves become constants), regenerated until it lies in
     * the safe region (the number of rejected drafts is recorded).
     */
    public static Case generate(long seed, int maxDepth, int inputBudget) {
        Random rnd = new Random(seed);
        for (int attempt = 0; ; attempt++) {
            Builder b = new Builder(rnd, inputBudget);
            int[] shape = b.shape(3, 16);
            Expr root = b.gen(shape, 2 + rnd.nextInt(maxDepth - 1));
            Case c = new Case(seed, root, b.inputValues, b.inputShapes, b.constantValues, b.constantShapes, attempt);
            if (attempt >= 50 || c.violation(root) == null) {
                return c;
            }
        }
    }

    static String dims(int[] shape) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ",").append(shape[i]);
        }
        return sb.append(']').toString();
    }

    /** Builds one draft expression, top-down from the shape it must produce. */
    private static final class Builder {
        private final Random rnd;
        private int budget;
        final List<double[]> inputValues = new ArrayList<>();
        final List<int[]> inputShapes = new ArrayList<>();
        final List<double[]> constantValues = new ArrayList<>();
        final List<int[]> constantShapes = new ArrayList<>();

        Builder(Random rnd, int budget) {
            this.rnd = rnd;
            this.budget = budget;
        }

        /** Rank 0..maxRank, each axis 1..4, at most maxNumel elements. */
        int[] shape(int maxRank, int maxNumel) {
            while (true) {
                int[] s = new int[rnd.nextInt(maxRank + 1)];
                for (int i = 0; i < s.length; i++) {
                    s[i] = 1 + rnd.nextInt(4);
                }
                if (NaiveReference.numel(s) <= maxNumel) {
                    return s;
                }
            }
        }

        private double[] values(int[] shape) {
            double[] v = new double[(int) NaiveReference.numel(shape)];
            for (int i = 0; i < v.length; i++) {
                v[i] = Math.round((rnd.nextDouble() * 3 - 1.5) * 1e4) / 1e4; // short, readable reproducers
            }
            return v;
        }

        Expr leaf(int[] shape) {
            if (rnd.nextInt(10) < 3) {
                for (int i = 0; i < inputShapes.size(); i++) {
                    if (Arrays.equals(inputShapes.get(i), shape)) {
                        return Expr.input(i, shape); // the same input used twice: gradients must add up
                    }
                }
            }
            int n = (int) NaiveReference.numel(shape);
            if (inputShapes.isEmpty() || n <= budget) {
                budget -= n;
                inputShapes.add(shape);
                inputValues.add(values(shape));
                return Expr.input(inputShapes.size() - 1, shape);
            }
            constantShapes.add(shape);
            constantValues.add(values(shape));
            return Expr.constant(constantShapes.size() - 1, shape);
        }

        Expr gen(int[] s, int depth) {
            if (depth <= 0 || rnd.nextInt(8) == 0) {
                return leaf(s);
            }
            int r = s.length;
            while (true) {
                switch (rnd.nextInt(10)) {
                    case 0, 1:
                        return unary(s, depth);
                    case 2, 3:
                        return binary(s, depth);
                    case 4:
                        return matmul(s, depth);
                    case 5:
                        if (r >= 2) {
                            return transpose(s, depth);
                        }
                        break;
                    case 6:
                        return reshape(s, depth);
                    case 7:
                        return reduce(s, depth);
                    case 8:
                        if (r >= 1) {
                            return softmax(s, depth);
                        }
                        break;
                    default:
                        if (r == 1) {
                            return crossEntropy(s, depth);
                        }
                        break;
                }
            }
        }

        private Expr unary(int[] s, int depth) {
            Expr e = gen(s, depth - 1);
            Expr[] k = {e};
            switch (rnd.nextInt(14)) {
                case 0:
                    return new Expr(s, k, (v, g) -> v[0].neg(), t -> "-(" + t[0] + ")");
                case 1:
                    return new Expr(s, k, (v, g) -> v[0].tanh(), t -> "tanh(" + t[0] + ")");
                case 2:
                    return new Expr(s, k, (v, g) -> v[0].sigmoid(), t -> "sigmoid(" + t[0] + ")");
                case 3:
                    return new Expr(s, k, (v, g) -> {
                        g.bounded("exp", v[0], 3);
                        return v[0].exp();
                    }, t -> "exp(" + t[0] + ")");
                case 4: // log and sqrt on positive arguments; e is used twice (fan-out)
                    return new Expr(s, k, (v, g) -> v[0].mul(v[0]).add(0.5).log(), t -> "log(" + t[0] + "*" + t[0] + "+0.5)");
                case 5:
                    return new Expr(s, k, (v, g) -> v[0].mul(v[0]).add(0.5).sqrt(), t -> "sqrt(" + t[0] + "*" + t[0] + "+0.5)");
                case 6:
                    return new Expr(s, k, (v, g) -> {
                        g.awayFromZero("abs", v[0]);
                        return v[0].abs();
                    }, t -> "abs(" + t[0] + ")");
                case 7:
                    return new Expr(s, k, (v, g) -> {
                        g.awayFromZero("relu", v[0]);
                        return v[0].relu();
                    }, t -> "relu(" + t[0] + ")");
                case 8: {
                    int p = 2 + rnd.nextInt(2);
                    return new Expr(s, k, (v, g) -> v[0].pow(p), t -> "pow(" + t[0] + ", " + p + ")");
                }
                case 9: {
                    double p = rnd.nextBoolean() ? -0.5 : 1.5;
                    return new Expr(s, k, (v, g) -> v[0].mul(v[0]).add(0.5).pow(p),
                            t -> "pow(" + t[0] + "*" + t[0] + "+0.5, " + p + ")");
                }
                case 10: {
                    double c = pickScalar();
                    return new Expr(s, k, (v, g) -> v[0].add(c), t -> "(" + t[0] + " + " + c + ")");
                }
                case 11: {
                    double c = pickScalar();
                    return new Expr(s, k, (v, g) -> v[0].sub(c), t -> "(" + t[0] + " - " + c + ")");
                }
                case 12: {
                    double c = pickScalar();
                    return new Expr(s, k, (v, g) -> v[0].mul(c), t -> "(" + t[0] + " * " + c + ")");
                }
                default: {
                    double c = pickScalar();
                    return new Expr(s, k, (v, g) -> v[0].div(c), t -> "(" + t[0] + " / " + c + ")");
                }
            }
        }

        private double pickScalar() {
            double[] choices = {-2, -0.5, 0.25, 1.5, 3};
            return choices[rnd.nextInt(choices.length)];
        }

        /** Two operand shapes that broadcast to exactly s (including outer-product style [3,1] with [1,4]). */
        private int[][] broadcastOperands(int[] s) {
            int[] a = s.clone();
            int[] b = s.clone();
            for (int i = 0; i < s.length; i++) {
                switch (rnd.nextInt(4)) {
                    case 0 -> a[i] = 1;
                    case 1 -> b[i] = 1;
                    default -> {
                    }
                }
            }
            // only one operand may lose leading axes, or the result would lose rank
            return rnd.nextBoolean() ? new int[][] {dropLeadingOnes(a), b} : new int[][] {a, dropLeadingOnes(b)};
        }

        private int[] dropLeadingOnes(int[] x) {
            int lead = 0;
            while (lead < x.length && x[lead] == 1) {
                lead++;
            }
            return Arrays.copyOfRange(x, rnd.nextInt(lead + 1), x.length);
        }

        private Expr binary(int[] s, int depth) {
            int[][] ops = broadcastOperands(s);
            Expr a = gen(ops[0], depth - 1);
            Expr b = gen(ops[1], depth - 1);
            Expr[] k = {a, b};
            return switch (rnd.nextInt(4)) {
                case 0 -> new Expr(s, k, (v, g) -> v[0].add(v[1]), t -> "(" + t[0] + " + " + t[1] + ")");
                case 1 -> new Expr(s, k, (v, g) -> v[0].sub(v[1]), t -> "(" + t[0] + " - " + t[1] + ")");
                case 2 -> new Expr(s, k, (v, g) -> v[0].mul(v[1]), t -> "(" + t[0] + " * " + t[1] + ")");
                default -> new Expr(s, k, (v, g) -> v[0].div(v[1].mul(v[1]).add(0.5)),
                        t -> "(" + t[0] + " / (" + t[1] + "*" + t[1] + "+0.5))");
            };
        }

        /** Operand shapes whose product has shape s: vector, matrix and batched forms. */
        private Expr matmul(int[] s, int depth) {
            int k = 1 + rnd.nextInt(4);
            int[] a;
            int[] b;
            switch (s.length) {
                case 0 -> {
                    a = new int[] {k};
                    b = new int[] {k};
                }
                case 1 -> {
                    if (rnd.nextBoolean()) {
                        a = new int[] {s[0], k};
                        b = new int[] {k};
                    } else {
                        a = new int[] {k};
                        b = new int[] {k, s[0]};
                    }
                }
                case 2 -> {
                    a = new int[] {s[0], k};
                    b = new int[] {k, s[1]};
                }
                default -> {
                    int form = rnd.nextInt(3);
                    a = form == 2 ? new int[] {s[1], k} : new int[] {s[0], s[1], k};
                    b = form == 1 ? new int[] {k, s[2]} : new int[] {s[0], k, s[2]};
                }
            }
            Expr x = gen(a, depth - 1);
            Expr y = gen(b, depth - 1);
            return new Expr(s, new Expr[] {x, y}, (v, g) -> v[0].matmul(v[1]), t -> "matmul(" + t[0] + ", " + t[1] + ")");
        }

        private Expr transpose(int[] s, int depth) {
            int r = s.length;
            if (r == 2 || rnd.nextBoolean()) {
                int[] in = s.clone();
                in[r - 1] = s[r - 2];
                in[r - 2] = s[r - 1];
                Expr e = gen(in, depth - 1);
                return new Expr(s, new Expr[] {e}, (v, g) -> v[0].transpose(), t -> "transpose(" + t[0] + ")");
            }
            int p = rnd.nextInt(r);
            int q = (p + 1 + rnd.nextInt(r - 1)) % r;
            int[] in = s.clone();
            in[p] = s[q];
            in[q] = s[p];
            int ap = rnd.nextBoolean() ? p : p - r; // negative axes too
            Expr e = gen(in, depth - 1);
            return new Expr(s, new Expr[] {e}, (v, g) -> v[0].transpose(ap, q),
                    t -> "transpose(" + t[0] + ", " + ap + ", " + q + ")");
        }

        private Expr reshape(int[] s, int depth) {
            long n = NaiveReference.numel(s);
            int[] in = null;
            for (int tries = 0; tries < 30 && in == null; tries++) {
                int[] c = shape(3, 64);
                if (NaiveReference.numel(c) == n && !Arrays.equals(c, s)) {
                    in = c;
                }
            }
            if (in == null) {
                in = n == 1 ? new int[0] : new int[] {(int) n};
            }
            int[] target = s.clone();
            if (target.length > 0 && rnd.nextInt(3) == 0) {
                target[rnd.nextInt(target.length)] = -1;
            }
            Expr e = gen(in, depth - 1);
            return new Expr(s, new Expr[] {e}, (v, g) -> v[0].reshape(target), t -> "reshape(" + t[0] + ", " + dims(target) + ")");
        }

        /** sum/mean/max along an axis (kept or dropped), or sum()/mean() of everything. */
        private Expr reduce(int[] s, int depth) {
            int r = s.length;
            int kind = rnd.nextInt(3); // 0 sum, 1 mean, 2 max
            String name = kind == 0 ? "sum" : kind == 1 ? "mean" : "max";
            int keepAxis = -1;
            for (int i = 0; i < r; i++) {
                if (s[i] == 1 && rnd.nextBoolean()) {
                    keepAxis = i;
                }
            }
            if (r == 0 && kind != 2 && rnd.nextBoolean()) {
                Expr e = gen(shape(3, 16), depth - 1);
                return new Expr(s, new Expr[] {e}, (v, g) -> kind == 0 ? v[0].sum() : v[0].mean(), t -> name + "(" + t[0] + ")");
            }
            int[] in;
            int axis;
            boolean keep;
            if (keepAxis >= 0) {
                in = s.clone();
                in[keepAxis] = 1 + rnd.nextInt(4);
                axis = keepAxis;
                keep = true;
            } else if (r < 3) {
                axis = rnd.nextInt(r + 1);
                in = new int[r + 1];
                for (int i = 0, j = 0; i < in.length; i++) {
                    in[i] = i == axis ? 1 + rnd.nextInt(4) : s[j++];
                }
                keep = false;
            } else {
                return unary(s, depth);
            }
            int given = rnd.nextBoolean() ? axis : axis - in.length;
            Expr e = gen(in, depth - 1);
            return new Expr(s, new Expr[] {e}, (v, g) -> switch (kind) {
                case 0 -> v[0].sum(given, keep);
                case 1 -> v[0].mean(given, keep);
                default -> {
                    g.noNearTies("max", v[0], axis);
                    yield v[0].max(given, keep);
                }
            }, t -> name + "(" + t[0] + ", axis " + given + (keep ? ", keepDim" : "") + ")");
        }

        private Expr softmax(int[] s, int depth) {
            int r = s.length;
            int axis = rnd.nextInt(r);
            int given = rnd.nextBoolean() ? axis : axis - r;
            boolean log = rnd.nextBoolean();
            Expr e = gen(s, depth - 1);
            return new Expr(s, new Expr[] {e}, (v, g) -> log ? v[0].logSoftmax(given) : v[0].softmax(given),
                    t -> (log ? "logSoftmax(" : "softmax(") + t[0] + ", axis " + given + ")");
        }

        private Expr crossEntropy(int[] s, int depth) {
            int classes = 1 + rnd.nextInt(4);
            int[] labels = new int[s[0]];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = rnd.nextInt(classes);
            }
            Expr e = gen(new int[] {s[0], classes}, depth - 1);
            return new Expr(s, new Expr[] {e}, (v, g) -> v[0].crossEntropyPerRow(labels),
                    t -> "crossEntropyPerRow(" + t[0] + ", labels " + Arrays.toString(labels) + ")");
        }
    }
}
