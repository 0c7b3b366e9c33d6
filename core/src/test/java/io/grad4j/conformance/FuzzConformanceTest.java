package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.GradCheck;
import io.grad4j.autograd.JacobianMode;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.NaiveReference.Nd;
import io.grad4j.conformance.RandomExpressions.Case;
import io.grad4j.conformance.RandomExpressions.Expr;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Property-based fuzzing of a backend with seeded random cases: random expression graphs over the
 * whole operation set must pass gradcheck, give the same Jacobian in forward and reverse mode, and
 * give FLOAT32 values and gradients that follow FLOAT64's; every primitive on random shapes must
 * match {@link NaiveReference} in both dtypes.
 *
 * <p>Plain JUnit dynamic tests, one per case, named by the case's expression and seed; no jqwik
 * (see README, "Tests"). Case i uses seed {@code grad4j.fuzz.seed + i}; {@code grad4j.fuzz.tries}
 * cases run per property (default {@value #DEFAULT_TRIES}, the CI setting). A failing expression
 * is reported with its smallest failing subexpression, every leaf's values and the seed, which
 * rerun it alone: {@code -Dgrad4j.fuzz.seed=SEED -Dgrad4j.fuzz.tries=1}.
 */
public abstract class FuzzConformanceTest extends BackendTestBase {
    static final int DEFAULT_TRIES = 300;
    static final long DEFAULT_SEED = 20_261_127L;
    /** Input elements per expression; leaves beyond it become constants, keeping gradcheck fast. */
    static final int INPUT_BUDGET = 32;
    static final int MAX_DEPTH = 5;

    static int tries() {
        return Integer.getInteger("grad4j.fuzz.tries", DEFAULT_TRIES);
    }

    static long baseSeed() {
        return Long.getLong("grad4j.fuzz.seed", DEFAULT_SEED);
    }

    private Stream<Long> seeds() {
        long base = baseSeed();
        return LongStream.range(0, tries()).mapToObj(i -> base + i);
    }

    /** The dynamic tests run after @BeforeEach's scope; each case sets the backend itself. */
    private DynamicTest onBackend(String name, Runnable body) {
        String shown = name.length() <= 200 ? name : name.substring(0, 197) + "...";
        return DynamicTest.dynamicTest(shown, () -> {
            try (Backends.Scope ignored = Backends.use(backend())) {
                body.run();
            }
        });
    }

    // ------------------------------------------------------------------ random expression graphs

    @TestFactory
    Stream<DynamicTest> randomExpressionsPassGradCheck() {
        return seeds().map(seed -> {
            Case c;
            try (Backends.Scope ignored = Backends.use(backend())) {
                c = RandomExpressions.generate(seed, MAX_DEPTH, INPUT_BUDGET);
            }
            return onBackend("seed " + seed + ": " + c.root(), () -> check(c, "gradcheck", FuzzConformanceTest::gradCheckFailure));
        });
    }

    @TestFactory
    Stream<DynamicTest> forwardAndReverseJacobiansAgree() {
        return seeds().map(seed -> {
            Case c;
            try (Backends.Scope ignored = Backends.use(backend())) {
                c = RandomExpressions.generate(seed, MAX_DEPTH, INPUT_BUDGET);
            }
            return onBackend("seed " + seed + ": " + c.root(), () -> check(c, "forward vs reverse Jacobian",
                    FuzzConformanceTest::jacobianMismatch));
        });
    }

    /**
     * The generator itself: over the CI seeds it must reach every operation, build expressions of
     * some size, and seldom give up on finding a draft in the safe region (a generator that
     * degenerated to single leaves would make the properties above pass without testing anything).
     */
    @Test
    void generatorCoversEveryOperation() {
        Map<String, Integer> counts = new TreeMap<>();
        long nodes = 0;
        int gaveUp = 0;
        int rejected = 0;
        long base = baseSeed();
        int n = Math.max(tries(), DEFAULT_TRIES);
        for (int i = 0; i < n; i++) {
            Case c = RandomExpressions.generate(base + i, MAX_DEPTH, INPUT_BUDGET);
            rejected += c.rejected();
            if (c.violation(c.root()) != null) {
                gaveUp++;
            }
            for (Expr e : c.root().postOrder()) {
                counts.merge(e.opName(), 1, Integer::sum);
                nodes++;
            }
        }
        System.out.printf("fuzz generator: %d cases from seed %d, %.1f nodes per expression, %d drafts rejected, "
                + "%d cases gave up; operations: %s%n", n, base, (double) nodes / n, rejected, gaveUp, counts);
        List<String> expected = List.of("input", "constant", "neg", "tanh", "sigmoid", "exp", "log", "sqrt", "abs",
                "relu", "pow", "scalar +", "scalar -", "scalar *", "scalar /", "+", "-", "*", "/", "matmul",
                "transpose", "reshape", "sum", "mean", "max", "softmax", "logSoftmax", "crossEntropyPerRow");
        for (String op : expected) {
            assertTrue(counts.containsKey(op), "the generator never produced '" + op + "' in " + n + " cases: " + counts);
        }
        assertTrue(nodes >= 4L * n, "expressions average under 4 nodes: " + counts);
        assertTrue(gaveUp * 20 <= n, gaveUp + " of " + n + " cases found no draft in the safe region");
    }

    @TestFactory
    Stream<DynamicTest> float32GradientsFollowFloat64() {
        return seeds().map(seed -> {
            Case c;
            try (Backends.Scope ignored = Backends.use(backend())) {
                c = RandomExpressions.generate(seed, MAX_DEPTH, INPUT_BUDGET);
            }
            return onBackend("seed " + seed + ": " + c.root(), () -> check(c, "float32 vs float64 gradients",
                    FuzzConformanceTest::float32Mismatch));
        });
    }

    /**
     * Values and reverse-mode gradients (of the sum of the output) computed in FLOAT32 agree with
     * FLOAT64 within float32 rounding, measured against each result's largest magnitude: this
     * runs the float32 forward and backward kernels, which gradcheck (FLOAT64 only) never reaches.
     */
    private static String float32Mismatch(Case c, Expr e) {
        double[][] wide = valueAndGradients(c, e, DType.FLOAT64);
        double[][] narrow = valueAndGradients(c, e, DType.FLOAT32);
        for (int p = 0; p < wide.length; p++) {
            double scale = 1;
            for (double v : wide[p]) {
                scale = Math.max(scale, Math.abs(v));
            }
            for (int i = 0; i < wide[p].length; i++) {
                if (!(Math.abs(wide[p][i] - narrow[p][i]) <= 2e-3 * scale)) {
                    String what = p == 0 ? "value" : "gradient of x" + (p - 1);
                    return what + " element " + i + ": float64 " + wide[p][i] + " vs float32 " + narrow[p][i]
                            + " (allowed " + 2e-3 * scale + ")";
                }
            }
        }
        return null;
    }

    private static double[][] valueAndGradients(Case c, Expr e, DType dtype) {
        Tensor[] in = c.inputs(dtype);
        Tensor[] leaves = new Tensor[in.length];
        for (int i = 0; i < in.length; i++) {
            leaves[i] = in[i].requiresGrad(true);
        }
        Tensor y = c.function(e, dtype).apply(leaves);
        Tensor[] g = Autograd.grad(y.sum(), leaves);
        double[][] out = new double[1 + g.length][];
        out[0] = y.toDoubleArray();
        for (int i = 0; i < g.length; i++) {
            out[i + 1] = g[i].toDoubleArray();
        }
        return out;
    }

    /** A property of one expression at the case's inputs: null when it holds, else what went wrong. */
    @FunctionalInterface
    interface ExprProperty {
        String failure(Case c, Expr e);
    }

    /**
     * Checks the property on the whole expression; on failure, finds the smallest subexpression
     * (fewest nodes) that still fails at the same inputs and fails with a reproducer of both.
     */
    private static void check(Case c, String what, ExprProperty property) {
        String violation = c.violation(c.root());
        if (violation != null) {
            // the generator gave up after 50 drafts: nothing meaningful to check at this seed
            System.out.println("fuzz: seed " + c.seed() + " skipped, no draft in the safe region: " + violation);
            return;
        }
        String failure = safely(property, c, c.root());
        if (failure == null) {
            return;
        }
        Expr smallest = c.root();
        String smallestFailure = failure;
        for (Expr sub : c.root().postOrder()) {
            if (sub.size() < smallest.size() && sub.kids.length > 0 && c.violation(sub) == null) {
                String f = safely(property, c, sub);
                if (f != null) {
                    smallest = sub;
                    smallestFailure = f;
                }
            }
        }
        StringBuilder msg = new StringBuilder(what + " FAILED\n" + c.describe(c.root()) + "\n  failure: " + failure);
        if (smallest != c.root()) {
            msg.append("\nsmallest failing subexpression:\n").append(c.describe(smallest))
                    .append("\n  failure: ").append(smallestFailure);
        }
        System.out.println(msg);
        fail(msg.toString());
    }

    private static String safely(ExprProperty property, Case c, Expr e) {
        try {
            return property.failure(c, e);
        } catch (RuntimeException ex) {
            return ex.toString();
        }
    }

    private static String gradCheckFailure(Case c, Expr e) {
        GradCheck.Result r = GradCheck.check(c.function(e), c.inputs());
        return r.passed() ? null : r.report();
    }

    /** For each input, the Jacobian by JVPs (columns) equals the one by VJPs (rows), to rounding. */
    private static String jacobianMismatch(Case c, Expr e) {
        Tensor[] inputs = c.inputs();
        Function<Tensor[], Tensor> f = c.function(e);
        for (int k = 0; k < inputs.length; k++) {
            int which = k;
            Function<Tensor, Tensor> fk = x -> {
                Tensor[] args = inputs.clone();
                args[which] = x;
                return f.apply(args);
            };
            double[] rev = Autograd.jacobian(fk, inputs[k], JacobianMode.REVERSE).toDoubleArray();
            double[] fwd = Autograd.jacobian(fk, inputs[k], JacobianMode.FORWARD).toDoubleArray();
            if (rev.length != fwd.length) {
                return "input x" + k + ": Jacobians have " + rev.length + " (reverse) and " + fwd.length + " (forward) elements";
            }
            for (int i = 0; i < rev.length; i++) {
                if (!(Math.abs(rev[i] - fwd[i]) <= 1e-10 + 1e-8 * Math.abs(rev[i]))) {
                    return "input x" + k + ", Jacobian element " + i + ": reverse " + rev[i] + " vs forward " + fwd[i];
                }
            }
        }
        return null;
    }

    // ------------------------------------------------------------------ primitives vs the naive reference

    @TestFactory
    Stream<DynamicTest> primitivesOnRandomShapesMatchTheNaiveReference() {
        return Stream.of(DType.FLOAT32, DType.FLOAT64).flatMap(dtype -> seeds().map(seed -> {
            PrimitiveCase p = PrimitiveCase.draw(new Random(seed));
            return onBackend(dtype + " seed " + seed + ": " + p.text, () -> {
                Tensor[] args = new Tensor[p.inputs.size()];
                Nd[] refArgs = new Nd[args.length];
                for (int i = 0; i < args.length; i++) {
                    args[i] = tensor(dtype, p.inputs.get(i));
                    refArgs[i] = rounded(dtype, p.inputs.get(i));
                }
                Nd expected = p.reference.apply(refArgs);
                Tensor actual;
                try {
                    actual = p.op.apply(args);
                } catch (RuntimeException ex) {
                    throw new AssertionError(reproducer(p, dtype, seed) + "\n  threw " + ex, ex);
                }
                try {
                    assertClose(expected, actual, dtype, p.text);
                } catch (AssertionError ex) {
                    String msg = reproducer(p, dtype, seed) + "\n  " + ex.getMessage();
                    System.out.println(msg);
                    throw new AssertionError(msg, ex);
                }
            });
        }));
    }

    private static String reproducer(PrimitiveCase p, DType dtype, long seed) {
        StringBuilder sb = new StringBuilder("primitive mismatch: " + p.text + " in " + dtype + "\n");
        for (int i = 0; i < p.inputs.size(); i++) {
            Nd x = p.inputs.get(i);
            sb.append("  x").append(i).append(' ').append(Arrays.toString(x.shape())).append(" = ")
                    .append(Arrays.toString(x.data())).append('\n');
        }
        return sb.append("  seed ").append(seed).append(" (rerun just this case: -Dgrad4j.fuzz.seed=").append(seed)
                .append(" -Dgrad4j.fuzz.tries=1)").toString();
    }

    /** One primitive on random operands: how to run it, what the reference says, and its readable text. */
    record PrimitiveCase(String text, List<Nd> inputs, Function<Tensor[], Tensor> op, Function<Nd[], Nd> reference) {

        static PrimitiveCase draw(Random rnd) {
            return switch (rnd.nextInt(9)) {
                case 0 -> unary(rnd);
                case 1 -> binary(rnd);
                case 2 -> matmul(rnd);
                case 3 -> transpose(rnd);
                case 4 -> reshape(rnd);
                case 5 -> reduce(rnd);
                case 6 -> reduceAll(rnd);
                case 7 -> softmax(rnd);
                default -> crossEntropy(rnd);
            };
        }

        static int[] shape(Random rnd, int minRank, int maxRank) {
            int[] s = new int[minRank + rnd.nextInt(maxRank - minRank + 1)];
            for (int i = 0; i < s.length; i++) {
                s[i] = 1 + rnd.nextInt(4);
            }
            return s;
        }

        static Nd values(Random rnd, int[] shape, double lo, double hi) {
            return random(rnd, shape, lo, hi);
        }

        static PrimitiveCase unary(Random rnd) {
            String[] ops = {"neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "pow", "add", "mul"};
            String op = ops[rnd.nextInt(ops.length)];
            int[] s = shape(rnd, 0, 3);
            boolean positive = op.equals("log") || op.equals("sqrt") || op.equals("pow");
            Nd x = positive ? values(rnd, s, 0.1, 3) : values(rnd, s, -3, 3);
            double p = switch (op) {
                case "pow" -> new double[] {2, 3, -0.5, 1.5, 0.5}[rnd.nextInt(5)];
                case "add", "mul" -> new double[] {-2, -0.5, 0.25, 1.5, 3}[rnd.nextInt(5)];
                default -> 0;
            };
            String text = op + (p != 0 ? "(" + p + ")" : "") + "(x0" + RandomExpressions.dims(s) + ")";
            Function<Tensor[], Tensor> f = a -> switch (op) {
                case "neg" -> a[0].neg();
                case "exp" -> a[0].exp();
                case "log" -> a[0].log();
                case "sqrt" -> a[0].sqrt();
                case "abs" -> a[0].abs();
                case "tanh" -> a[0].tanh();
                case "sigmoid" -> a[0].sigmoid();
                case "relu" -> a[0].relu();
                case "pow" -> a[0].pow(p);
                case "add" -> a[0].add(p);
                default -> a[0].mul(p);
            };
            return new PrimitiveCase(text, List.of(x), f, r -> NaiveReference.unary(op, p, r[0]));
        }

        static PrimitiveCase binary(Random rnd) {
            String[] ops = {"add", "sub", "mul", "div"};
            String op = ops[rnd.nextInt(ops.length)];
            int[] s = shape(rnd, 0, 3);
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
            a = Arrays.copyOfRange(a, rnd.nextInt(2) == 0 ? 0 : rnd.nextInt(a.length + 1), a.length);
            b = Arrays.copyOfRange(b, rnd.nextInt(2) == 0 ? 0 : rnd.nextInt(b.length + 1), b.length);
            if (rnd.nextBoolean()) {
                int[] t = a;
                a = b;
                b = t;
            }
            Nd x = values(rnd, a, -3, 3);
            Nd y = op.equals("div") ? values(rnd, b, 0.5, 3) : values(rnd, b, -3, 3);
            if (op.equals("div") && rnd.nextBoolean()) {
                double[] d = y.data();
                for (int i = 0; i < d.length; i++) {
                    d[i] = -d[i];
                }
            }
            String text = op + "(x0" + RandomExpressions.dims(a) + ", x1" + RandomExpressions.dims(b) + ")";
            Function<Tensor[], Tensor> f = t -> switch (op) {
                case "add" -> t[0].add(t[1]);
                case "sub" -> t[0].sub(t[1]);
                case "mul" -> t[0].mul(t[1]);
                default -> t[0].div(t[1]);
            };
            return new PrimitiveCase(text, List.of(x, y), f, r -> NaiveReference.binary(op, r[0], r[1]));
        }

        static PrimitiveCase matmul(Random rnd) {
            int m = 1 + rnd.nextInt(4);
            int k = 1 + rnd.nextInt(4);
            int n = 1 + rnd.nextInt(4);
            int batch = 1 + rnd.nextInt(3);
            int[][][] forms = {{{m, k}, {k, n}}, {{m, k}, {k}}, {{k}, {k, n}}, {{k}, {k}},
                    {{batch, m, k}, {batch, k, n}}, {{batch, m, k}, {k, n}}, {{m, k}, {batch, k, n}}};
            int[][] f = forms[rnd.nextInt(forms.length)];
            Nd a = values(rnd, f[0], -2, 2);
            Nd b = values(rnd, f[1], -2, 2);
            String text = "matmul(x0" + RandomExpressions.dims(f[0]) + ", x1" + RandomExpressions.dims(f[1]) + ")";
            return new PrimitiveCase(text, List.of(a, b), t -> t[0].matmul(t[1]), r -> NaiveReference.matmul(r[0], r[1]));
        }

        static PrimitiveCase transpose(Random rnd) {
            int[] s = shape(rnd, 2, 3);
            boolean last = rnd.nextBoolean();
            int p = last ? s.length - 2 : rnd.nextInt(s.length);
            int q = last ? s.length - 1 : rnd.nextInt(s.length);
            Nd x = values(rnd, s, -3, 3);
            String text = (last ? "transpose(x0" + RandomExpressions.dims(s) + ")"
                    : "transpose(x0" + RandomExpressions.dims(s) + ", " + p + ", " + q + ")");
            return new PrimitiveCase(text, List.of(x), t -> last ? t[0].transpose() : t[0].transpose(p, q),
                    r -> NaiveReference.transpose(r[0], p, q));
        }

        static PrimitiveCase reshape(Random rnd) {
            int[] s = shape(rnd, 0, 3);
            long n = NaiveReference.numel(s);
            int[] target = new int[] {(int) n};
            for (int i = 0; i < 30; i++) {
                int[] c = shape(rnd, 0, 3);
                if (NaiveReference.numel(c) == n) {
                    target = c;
                    break;
                }
            }
            int[] to = target;
            Nd x = values(rnd, s, -3, 3);
            String text = "reshape(x0" + RandomExpressions.dims(s) + ", " + RandomExpressions.dims(to) + ") then tanh";
            return new PrimitiveCase(text, List.of(x), t -> t[0].reshape(to).tanh(),
                    r -> NaiveReference.unary("tanh", 0, new Nd(r[0].data(), to)));
        }

        static PrimitiveCase reduce(Random rnd) {
            int[] s = shape(rnd, 1, 3);
            int axis = rnd.nextInt(s.length);
            int given = rnd.nextBoolean() ? axis : axis - s.length;
            boolean keep = rnd.nextBoolean();
            String op = new String[] {"sum", "mean", "max"}[rnd.nextInt(3)];
            Nd x = values(rnd, s, -3, 3);
            String text = op + "(x0" + RandomExpressions.dims(s) + ", axis " + given + (keep ? ", keepDim" : "") + ")";
            Function<Tensor[], Tensor> f = t -> switch (op) {
                case "sum" -> t[0].sum(given, keep);
                case "mean" -> t[0].mean(given, keep);
                default -> t[0].max(given, keep);
            };
            Function<Nd[], Nd> ref = r -> switch (op) {
                case "sum" -> NaiveReference.sum(r[0], axis, keep);
                case "mean" -> scale(NaiveReference.sum(r[0], axis, keep), 1.0 / s[axis]);
                default -> NaiveReference.max(r[0], axis, keep);
            };
            return new PrimitiveCase(text, List.of(x), f, ref);
        }

        static PrimitiveCase reduceAll(Random rnd) {
            int[] s = shape(rnd, 0, 3);
            boolean mean = rnd.nextBoolean();
            Nd x = values(rnd, s, -3, 3);
            String text = (mean ? "mean(x0" : "sum(x0") + RandomExpressions.dims(s) + ")";
            return new PrimitiveCase(text, List.of(x), t -> mean ? t[0].mean() : t[0].sum(),
                    r -> new Nd(new double[] {NaiveReference.sumAll(r[0]) / (mean ? r[0].data().length : 1)}, new int[0]));
        }

        static PrimitiveCase softmax(Random rnd) {
            int[] s = shape(rnd, 1, 3);
            int axis = rnd.nextInt(s.length);
            int given = rnd.nextBoolean() ? axis : axis - s.length;
            boolean log = rnd.nextBoolean();
            Nd x = values(rnd, s, -20, 20); // large logits: max-subtraction must keep it finite
            String text = (log ? "logSoftmax(x0" : "softmax(x0") + RandomExpressions.dims(s) + ", axis " + given + ")";
            return new PrimitiveCase(text, List.of(x), t -> log ? t[0].logSoftmax(given) : t[0].softmax(given),
                    r -> NaiveReference.softmax(r[0], axis, log));
        }

        static PrimitiveCase crossEntropy(Random rnd) {
            int rows = 1 + rnd.nextInt(4);
            int classes = 1 + rnd.nextInt(4);
            int[] labels = new int[rows];
            for (int i = 0; i < rows; i++) {
                labels[i] = rnd.nextInt(classes);
            }
            Nd x = values(rnd, new int[] {rows, classes}, -20, 20);
            boolean mean = rnd.nextBoolean(); // the fused mean over the batch, or the per-row losses
            String text = (mean ? "crossEntropy(x0[" : "crossEntropyPerRow(x0[") + rows + "," + classes + "], labels "
                    + Arrays.toString(labels) + ")";
            return new PrimitiveCase(text, List.of(x),
                    t -> mean ? t[0].crossEntropy(labels) : t[0].crossEntropyPerRow(labels), r -> {
                        Nd logp = NaiveReference.softmax(r[0], 1, true);
                        double[] loss = new double[rows];
                        double total = 0;
                        for (int i = 0; i < rows; i++) {
                            loss[i] = -logp.data()[i * classes + labels[i]];
                            total += loss[i];
                        }
                        return mean ? new Nd(new double[] {total / rows}, new int[0]) : new Nd(loss, new int[] {rows});
                    });
        }

        static Nd scale(Nd x, double c) {
            double[] d = x.data().clone();
            for (int i = 0; i < d.length; i++) {
                d[i] *= c;
            }
            return new Nd(d, x.shape());
        }
    }
}
