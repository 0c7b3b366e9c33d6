package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backend;
import io.grad4j.backend.BinaryOp;
import io.grad4j.backend.MatmulShape;
import io.grad4j.backend.ReduceOp;
import io.grad4j.backend.Storage;
import io.grad4j.backend.UnaryOp;
import io.grad4j.conformance.NaiveReference.Nd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every primitive of a backend, reached through the Tensor API and directly through the SPI,
 * checked against {@link NaiveReference} on random shapes (rank 0, size-1 axes, broadcasting) in
 * both dtypes. A backend module extends this class and implements {@link #backend()}.
 */
public abstract class BackendConformanceTest extends BackendTestBase {

    // ------------------------------------------------------------------ creation and transfer

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void creationFillsAndReportsShape(DType dtype) {
        Tensor z = Tensor.zeros(dtype, 2, 3);
        assertArrayEquals(new int[] {2, 3}, z.shape());
        assertEquals(dtype, z.dtype());
        assertEquals(6, z.numel());
        assertArrayEquals(new double[6], z.toDoubleArray());
        assertArrayEquals(new double[] {1, 1, 1}, Tensor.ones(dtype, 3).toDoubleArray());
        assertArrayEquals(new double[] {2.5, 2.5}, Tensor.full(dtype, 2.5, 1, 2).toDoubleArray());
        Tensor s = Tensor.scalar(4.25);
        assertEquals(0, s.rank());
        assertEquals(4.25, s.item());
        assertEquals(backend(), s.backend());
        Tensor empty = Tensor.zeros(dtype, 0, 3);
        assertEquals(0, empty.numel());
        assertEquals(0, empty.toDoubleArray().length);
    }

    @Test
    void valuesRoundTripThroughBothDtypes() {
        double[] d = {1.5, -2.25, 3e-3, 1e30};
        Tensor t = Tensor.of(d, 2, 2);
        assertArrayEquals(d, t.toDoubleArray());
        float[] f = {1.5f, -2.25f, 3e-3f, 1e30f};
        Tensor tf = Tensor.of(f, 4);
        assertEquals(DType.FLOAT32, tf.dtype());
        assertArrayEquals(f, tf.toFloatArray());
        assertArrayEquals(f, t.to(DType.FLOAT32).toFloatArray());
        double[] back = tf.to(DType.FLOAT64).toDoubleArray();
        for (int i = 0; i < f.length; i++) {
            assertEquals(f[i], back[i]);
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void randomTensorsAreReproducibleAndDistributedRight(DType dtype) {
        Tensor a = Tensor.randn(dtype, 42, 100, 100);
        Tensor b = Tensor.randn(dtype, 42, 100, 100);
        assertArrayEquals(a.toDoubleArray(), b.toDoubleArray());
        assertTrue(!Arrays.equals(a.toDoubleArray(), Tensor.randn(dtype, 43, 100, 100).toDoubleArray()));
        double[] v = a.toDoubleArray();
        double mean = Arrays.stream(v).average().orElseThrow();
        double var = Arrays.stream(v).map(x -> (x - mean) * (x - mean)).sum() / v.length;
        assertEquals(0.0, mean, 0.03, "randn mean");
        assertEquals(1.0, var, 0.05, "randn variance");
        double[] u = Tensor.rand(dtype, 7, 10_000).toDoubleArray();
        double umean = Arrays.stream(u).average().orElseThrow();
        assertTrue(Arrays.stream(u).allMatch(x -> x >= 0 && x < 1), "rand in [0,1)");
        assertEquals(0.5, umean, 0.02, "rand mean");
    }

    // ------------------------------------------------------------------ elementwise

    private static final Object[][] UNARY = {
            // name, param, low, high
            {"neg", 0.0, -3.0, 3.0}, {"exp", 0.0, -5.0, 5.0}, {"log", 0.0, 0.05, 5.0}, {"sqrt", 0.0, 0.05, 5.0},
            {"abs", 0.0, -3.0, 3.0}, {"tanh", 0.0, -6.0, 6.0}, {"sigmoid", 0.0, -8.0, 8.0}, {"relu", 0.0, -3.0, 3.0},
            {"pow", 3.0, -2.0, 2.0}, {"pow", 0.5, 0.05, 4.0}, {"pow", -1.5, 0.2, 4.0},
            {"add", 2.5, -3.0, 3.0}, {"mul", -1.75, -3.0, 3.0},
    };

    private static Tensor applyUnary(String op, double p, Tensor x) {
        return switch (op) {
            case "neg" -> x.neg();
            case "exp" -> x.exp();
            case "log" -> x.log();
            case "sqrt" -> x.sqrt();
            case "abs" -> x.abs();
            case "tanh" -> x.tanh();
            case "sigmoid" -> x.sigmoid();
            case "relu" -> x.relu();
            case "pow" -> x.pow(p);
            case "add" -> x.add(p);
            case "mul" -> x.mul(p);
            default -> throw new IllegalArgumentException(op);
        };
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void unaryOpsMatchReference(DType dtype) {
        Random rnd = new Random(1);
        for (Object[] u : UNARY) {
            String op = (String) u[0];
            double p = (Double) u[1];
            for (int trial = 0; trial < 4; trial++) {
                int[] shape = trial == 0 ? new int[0] : randomShape(rnd, 4);
                Nd x = rounded(dtype, random(rnd, shape, (Double) u[2], (Double) u[3]));
                Tensor y = applyUnary(op, p, tensor(dtype, x));
                assertEquals(dtype, y.dtype());
                assertClose(NaiveReference.unary(op, p, x), y, dtype, op + "(" + p + ") on " + Arrays.toString(shape));
            }
        }
        // a large unary op exercises any vectorised / parallel paths
        Nd big = rounded(dtype, random(rnd, new int[] {100_003}, -6, 6));
        assertClose(NaiveReference.unary("tanh", 0, big), tensor(dtype, big).tanh(), dtype, "tanh on 100003 elements");
        assertClose(NaiveReference.unary("relu", 0, big), tensor(dtype, big).relu(), dtype, "relu on 100003 elements");
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void reluPropagatesNaNAndHasZeroSlopeAtZero(DType dtype) {
        Backend be = backend();
        double[] xs = {Double.NaN, -1, -0.0, 0.0, 2};
        Tensor y = tensor(dtype, new Nd(xs, new int[] {5})).relu();
        double[] yv = y.toDoubleArray();
        assertTrue(Double.isNaN(yv[0]), "relu(NaN) is NaN");
        assertArrayEquals(new double[] {0, 0, 0, 2}, Arrays.copyOfRange(yv, 1, 5));
        Storage out = be.allocate(dtype, 5);
        Storage x = upload(be, dtype, xs);
        be.unaryBackward(UnaryOp.RELU, 0, x, x, upload(be, dtype, new double[] {3, 3, 3, 3, 3}), out);
        double[] g = downloadAs(be, out, new int[] {5}).toDoubleArray();
        assertTrue(Double.isNaN(g[0]), "relu'(NaN) is NaN, so anomaly mode sees it");
        assertArrayEquals(new double[] {0, 0, 0, 3}, Arrays.copyOfRange(g, 1, 5));
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void sigmoidAndTanhSaturateWithoutNaN(DType dtype) {
        Tensor x = tensor(dtype, new Nd(new double[] {-1000, -80, 0, 80, 1000}, new int[] {5}));
        assertClose(new Nd(new double[] {0, 1.8048513878454153e-35, 0.5, 1, 1}, new int[] {5}), x.sigmoid(), dtype, "sigmoid");
        assertClose(new Nd(new double[] {-1, -1, 0, 1, 1}, new int[] {5}), x.tanh(), dtype, "tanh");
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void binaryOpsBroadcastLikeNumPy(DType dtype) {
        Random rnd = new Random(2);
        String[] ops = {"add", "sub", "mul", "div"};
        for (int trial = 0; trial < 40; trial++) {
            int[] sa = randomShape(rnd, 4);
            int[] sb = broadcastPartner(rnd, sa);
            if (rnd.nextBoolean()) {
                int[] t = sa;
                sa = sb;
                sb = t;
            }
            Nd a = rounded(dtype, random(rnd, sa, -3, 3));
            Nd b = rounded(dtype, random(rnd, sb, 0.5, 3));
            for (String op : ops) {
                Tensor ta = tensor(dtype, a);
                Tensor tb = tensor(dtype, b);
                Tensor y = switch (op) {
                    case "add" -> ta.add(tb);
                    case "sub" -> ta.sub(tb);
                    case "mul" -> ta.mul(tb);
                    default -> ta.div(tb);
                };
                assertClose(NaiveReference.binary(op, a, b), y, dtype,
                        op + " " + Arrays.toString(sa) + " with " + Arrays.toString(sb));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void binaryOpsBroadcastBothWays(DType dtype) {
        Random rnd = new Random(3);
        Nd col = rounded(dtype, random(rnd, new int[] {4, 1}, -2, 2));
        Nd row = rounded(dtype, random(rnd, new int[] {1, 5}, -2, 2));
        assertClose(NaiveReference.binary("mul", col, row), tensor(dtype, col).mul(tensor(dtype, row)), dtype, "outer product");
        Nd bias = rounded(dtype, random(rnd, new int[] {7}, -2, 2));
        Nd x = rounded(dtype, random(rnd, new int[] {3, 2, 7}, -2, 2));
        assertClose(NaiveReference.binary("add", x, bias), tensor(dtype, x).add(tensor(dtype, bias)), dtype, "bias add");
        Nd s = rounded(dtype, random(rnd, new int[0], 1, 2));
        assertClose(NaiveReference.binary("div", s, x), tensor(dtype, s).div(tensor(dtype, x)), dtype, "scalar / tensor");
    }

    @Test
    void binaryOpsRefuseMismatchedShapesAndDtypes() {
        Tensor a = Tensor.zeros(DType.FLOAT32, 2, 3);
        Tensor b = Tensor.zeros(DType.FLOAT32, 4, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.add(b));
        assertTrue(e.getMessage().contains("add") && e.getMessage().contains("[2, 3]") && e.getMessage().contains("[4, 3]"),
                e.getMessage());
        Tensor c = Tensor.zeros(DType.FLOAT64, 2, 3);
        e = assertThrows(IllegalArgumentException.class, () -> a.mul(c));
        assertTrue(e.getMessage().contains("FLOAT32") && e.getMessage().contains("FLOAT64"), e.getMessage());
    }

    // ------------------------------------------------------------------ matmul

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void matmulMatchesReferenceInEveryForm(DType dtype) {
        Random rnd = new Random(4);
        int[][][] cases = {
                {{3, 4}, {4, 5}}, {{1, 1}, {1, 1}}, {{5, 7}, {7}}, {{7}, {7, 2}}, {{6}, {6}},
                {{2, 3, 4}, {2, 4, 5}}, {{2, 3, 4}, {4, 5}}, {{3, 4}, {2, 4, 5}}, {{2, 2, 3, 4}, {2, 2, 4, 1}},
                {{33, 65}, {65, 17}}, {{0, 3}, {3, 2}}, {{2, 0}, {0, 3}},
        };
        for (int[][] c : cases) {
            Nd a = rounded(dtype, random(rnd, c[0], -1, 1));
            Nd b = rounded(dtype, random(rnd, c[1], -1, 1));
            assertClose(NaiveReference.matmul(a, b), tensor(dtype, a).matmul(tensor(dtype, b)), dtype,
                    "matmul " + Arrays.toString(c[0]) + " @ " + Arrays.toString(c[1]));
        }
        assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(dtype, 2, 3).matmul(Tensor.zeros(dtype, 4, 2)));
    }

    /** Transpose flags and batch strides straight through the SPI, with no copies in core. */
    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void matmulPrimitiveHonoursTransposeFlagsAndBatchStrides(DType dtype) {
        Random rnd = new Random(5);
        Backend be = backend();
        int batch = 3, m = 4, n = 5, k = 6;
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                for (boolean shareB : new boolean[] {false, true}) {
                    int[] aShape = ta ? new int[] {batch, k, m} : new int[] {batch, m, k};
                    int[] bMat = tb ? new int[] {n, k} : new int[] {k, n};
                    int[] bShape = shareB ? bMat : new int[] {batch, bMat[0], bMat[1]};
                    Nd a = rounded(dtype, random(rnd, aShape, -1, 1));
                    Nd b = rounded(dtype, random(rnd, bShape, -1, 1));
                    Storage as = upload(be, dtype, a.data());
                    Storage bs = upload(be, dtype, b.data());
                    Storage cs = be.allocate(dtype, (long) batch * m * n);
                    be.matmul(as, bs, cs, new MatmulShape(batch, m, n, k, ta, tb, (long) m * k, shareB ? 0 : (long) k * n));
                    Nd aOp = ta ? NaiveReference.transpose(a, 1, 2) : a;
                    Nd bOp = tb ? NaiveReference.transpose(b, b.shape().length - 2, b.shape().length - 1) : b;
                    Nd expected = NaiveReference.matmul(aOp, bOp);
                    assertClose(expected, downloadAs(be, cs, expected.shape()), dtype,
                            "matmul flags ta=" + ta + " tb=" + tb + " sharedB=" + shareB);
                }
            }
        }
    }

    // ------------------------------------------------------------------ shape

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void transposeAndReshapeMoveValuesRight(DType dtype) {
        Random rnd = new Random(6);
        Nd x = rounded(dtype, random(rnd, new int[] {2, 3, 4}, -1, 1));
        Tensor t = tensor(dtype, x);
        assertClose(NaiveReference.transpose(x, 1, 2), t.transpose(), dtype, "transpose()");
        assertClose(NaiveReference.transpose(x, 0, 2), t.transpose(0, 2), dtype, "transpose(0,2)");
        assertClose(NaiveReference.transpose(x, 0, 1), t.transpose(-3, -2), dtype, "transpose(-3,-2)");
        Tensor r = t.reshape(4, -1);
        assertArrayEquals(new int[] {4, 6}, r.shape());
        assertArrayEquals(x.data(), r.toDoubleArray(), 0.0);
        assertThrows(IllegalArgumentException.class, () -> t.reshape(5, 5));
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(dtype, 3).transpose());
        assertThrows(IllegalArgumentException.class, () -> t.transpose(0, 3));
    }

    // ------------------------------------------------------------------ reductions

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void reductionsMatchReferenceOnEveryAxis(DType dtype) {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 12; trial++) {
            int[] shape = trial == 0 ? new int[] {1} : randomShape(rnd, 4);
            if (shape.length == 0) {
                shape = new int[] {3};
            }
            Nd x = rounded(dtype, random(rnd, shape, -2, 2));
            Tensor t = tensor(dtype, x);
            for (int axis = 0; axis < shape.length; axis++) {
                for (boolean keep : new boolean[] {false, true}) {
                    String ctx = " axis " + axis + " keep " + keep + " of " + Arrays.toString(shape);
                    assertClose(NaiveReference.sum(x, axis, keep), t.sum(axis, keep), dtype, "sum" + ctx);
                    assertClose(NaiveReference.max(x, axis, keep), t.max(axis, keep), dtype, "max" + ctx);
                    Nd mean = NaiveReference.unary("mul", 1.0 / shape[axis], NaiveReference.sum(x, axis, keep));
                    assertClose(mean, t.mean(axis, keep), dtype, "mean" + ctx);
                }
            }
            assertEquals(NaiveReference.sumAll(x), t.sum().item(), atol(dtype) * 10 + rtol(dtype) * 10, "sum()");
            assertEquals(NaiveReference.sumAll(x) / x.data().length, t.mean().item(), atol(dtype) + rtol(dtype), "mean()");
            assertEquals(0, t.sum().rank());
        }
        Nd big = rounded(dtype, random(rnd, new int[] {513, 300}, -1, 1));
        assertClose(NaiveReference.sum(big, 0, false), tensor(dtype, big).sum(0, false), dtype, "column sums");
        assertClose(NaiveReference.sum(big, 1, false), tensor(dtype, big).sum(1, false), dtype, "row sums");
        assertClose(NaiveReference.max(big, 0, true), tensor(dtype, big).max(0, true), dtype, "column max");
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void maxGradientGoesToTheFirstMaximum(DType dtype) {
        Backend be = backend();
        // two rows over the middle axis with ties: [outer=2, axis=3, inner=1]
        Storage x = upload(be, dtype, new double[] {1, 5, 5, 7, 2, 7});
        Storage max = be.allocate(dtype, 2);
        be.reduce(ReduceOp.MAX, x, max, 2, 3, 1);
        Storage g = upload(be, dtype, new double[] {10, 20});
        Storage out = be.allocate(dtype, 6);
        be.maxBackward(x, max, g, out, 2, 3, 1);
        assertArrayEquals(new double[] {0, 10, 0, 20, 0, 0}, downloadAs(be, out, new int[] {6}).toDoubleArray());
    }

    // ------------------------------------------------------------------ softmax

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void softmaxMatchesReferenceOnEveryAxis(DType dtype) {
        Random rnd = new Random(8);
        Nd x = rounded(dtype, random(rnd, new int[] {3, 4, 5}, -4, 4));
        Tensor t = tensor(dtype, x);
        for (int axis = 0; axis < 3; axis++) {
            assertClose(NaiveReference.softmax(x, axis, false), t.softmax(axis), dtype, "softmax axis " + axis);
            assertClose(NaiveReference.softmax(x, axis, true), t.logSoftmax(axis), dtype, "logSoftmax axis " + axis);
        }
        Nd wide = rounded(dtype, random(rnd, new int[] {4, 1000}, -4, 4));
        assertClose(NaiveReference.softmax(wide, 1, true), tensor(dtype, wide).logSoftmax(-1), dtype, "wide logSoftmax");
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void softmaxOfLargeLogitsDoesNotOverflow(DType dtype) {
        Nd x = new Nd(new double[] {1000, 1001, 1002, -1000, -1001, -1e4}, new int[] {2, 3});
        Tensor t = tensor(dtype, x);
        assertClose(NaiveReference.softmax(x, 1, false), t.softmax(1), dtype, "softmax of large logits");
        assertClose(NaiveReference.softmax(x, 1, true), t.logSoftmax(1), dtype, "logSoftmax of large logits");
        for (double v : t.softmax(1).toDoubleArray()) {
            assertTrue(Double.isFinite(v));
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void softmaxBackwardPrimitiveMatchesFormula(DType dtype) {
        Random rnd = new Random(9);
        Backend be = backend();
        Nd x = rounded(dtype, random(rnd, new int[] {2, 3, 4}, -2, 2));
        Nd g = rounded(dtype, random(rnd, new int[] {2, 3, 4}, -1, 1));
        for (boolean log : new boolean[] {false, true}) {
            Nd y = rounded(dtype, NaiveReference.softmax(x, 1, log));
            Storage ys = upload(be, dtype, y.data());
            Storage gs = upload(be, dtype, g.data());
            Storage out = be.allocate(dtype, 24);
            be.softmaxBackward(ys, gs, out, 2, 3, 4, log);
            double[] expected = new double[24];
            for (int o = 0; o < 2; o++) {
                for (int i = 0; i < 4; i++) {
                    double dot = 0;
                    for (int j = 0; j < 3; j++) {
                        int k = o * 12 + j * 4 + i;
                        dot += log ? g.data()[k] : g.data()[k] * y.data()[k];
                    }
                    for (int j = 0; j < 3; j++) {
                        int k = o * 12 + j * 4 + i;
                        expected[k] = log ? g.data()[k] - Math.exp(y.data()[k]) * dot : y.data()[k] * (g.data()[k] - dot);
                    }
                }
            }
            assertClose(new Nd(expected, new int[] {2, 3, 4}), downloadAs(be, out, new int[] {2, 3, 4}), dtype,
                    (log ? "log-" : "") + "softmax backward");
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void fusedCrossEntropyMatchesLogSoftmaxAndItsGradient(DType dtype) {
        Random rnd = new Random(13);
        Backend be = backend();
        for (int[] rc : new int[][] {{1, 1}, {5, 10}, {3, 100}, {2, 1000}}) {
            int rows = rc[0];
            int classes = rc[1];
            Nd x = rounded(dtype, random(rnd, new int[] {rows, classes}, -5, 5));
            if (rows == 2) {
                x.data()[3] = 1e4; // a large logit must neither overflow nor lose the others
            }
            int[] labels = rnd.ints(rows, 0, classes).toArray();
            Nd logp = NaiveReference.softmax(x, 1, true);
            Nd p = NaiveReference.softmax(x, 1, false);
            double[] loss = new double[rows];
            double[] g = new double[rows];
            double[] grad = new double[rows * classes];
            for (int r = 0; r < rows; r++) {
                loss[r] = -logp.data()[r * classes + labels[r]];
                g[r] = 0.5 + r;
                for (int c = 0; c < classes; c++) {
                    grad[r * classes + c] = g[r] * (p.data()[r * classes + c] - (c == labels[r] ? 1 : 0));
                }
            }
            Storage xs = upload(be, dtype, x.data());
            Storage ls = be.allocate(dtype, rows);
            be.crossEntropy(xs, labels, ls, rows, classes);
            String ctx = rows + "x" + classes;
            assertClose(new Nd(loss, new int[] {rows}), downloadAs(be, ls, new int[] {rows}), dtype, "crossEntropy " + ctx);
            Storage out = be.allocate(dtype, (long) rows * classes);
            be.crossEntropyBackward(xs, labels, upload(be, dtype, g), out, rows, classes);
            assertClose(new Nd(grad, new int[] {rows, classes}), downloadAs(be, out, new int[] {rows, classes}), dtype,
                    "crossEntropy backward " + ctx);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(dtype, 2, 3).crossEntropyPerRow(new int[] {0, 3}));
        assertTrue(e.getMessage().contains("label 3"), e.getMessage());
    }

    // ------------------------------------------------------------------ SPI details

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void unaryBackwardIsGradTimesDerivative(DType dtype) {
        Random rnd = new Random(10);
        Backend be = backend();
        for (UnaryOp op : UnaryOp.values()) {
            double p = op == UnaryOp.POW ? 2.5 : op == UnaryOp.MUL_SCALAR ? -3.0 : op == UnaryOp.ADD_SCALAR ? 1.5 : 0;
            boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.POW;
            Nd x = rounded(dtype, random(rnd, new int[] {37}, positive ? 0.1 : -3, 3));
            Nd g = rounded(dtype, random(rnd, new int[] {37}, -1, 1));
            double[] y = new double[37];
            double[] expected = new double[37];
            for (int i = 0; i < 37; i++) {
                y[i] = op.apply(x.data()[i], p);
            }
            Nd yr = rounded(dtype, new Nd(y, new int[] {37}));
            for (int i = 0; i < 37; i++) {
                expected[i] = g.data()[i] * op.derivative(x.data()[i], yr.data()[i], p);
            }
            Storage out = be.allocate(dtype, 37);
            be.unaryBackward(op, p, upload(be, dtype, x.data()), upload(be, dtype, yr.data()),
                    upload(be, dtype, g.data()), out);
            assertClose(new Nd(expected, new int[] {37}), downloadAs(be, out, new int[] {37}), dtype, op + " backward");
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void stridedCopyBroadcastsAndPermutes(DType dtype) {
        Backend be = backend();
        Storage src = upload(be, dtype, new double[] {1, 2, 3, 4, 5, 6}); // [2,3]
        Storage dst = be.allocate(dtype, 6);
        be.stridedCopy(src, new long[] {1, 3}, dst, new int[] {3, 2}); // transpose
        assertArrayEquals(new double[] {1, 4, 2, 5, 3, 6}, downloadAs(be, dst, new int[] {6}).toDoubleArray());
        Storage row = upload(be, dtype, new double[] {7, 8});
        Storage tiled = be.allocate(dtype, 6);
        be.stridedCopy(row, new long[] {0, 1}, tiled, new int[] {3, 2}); // broadcast rows
        assertArrayEquals(new double[] {7, 8, 7, 8, 7, 8}, downloadAs(be, tiled, new int[] {6}).toDoubleArray());
    }

    /** Views: a source read from an offset, a destination written at an offset and strides (a transposed slice). */
    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void stridedCopyReadsAndWritesViewsAtOffsets(DType dtype) {
        Backend be = backend();
        Storage src = upload(be, dtype, new double[] {0, 0, 1, 2, 3, 4, 5, 6}); // [2,3] from element 2
        Storage dst = upload(be, dtype, new double[] {9, 9, 9, 9, 9, 9, 9, 9, 9});
        // dst viewed as [3,3] from element 1, written through its transpose: dst[1 + i + 3j] = src[2 + 3i + j]
        be.stridedCopy(src, 2, new long[] {3, 1}, dst, 1, new long[] {1, 3}, new int[] {2, 3});
        assertArrayEquals(new double[] {9, 1, 4, 9, 2, 5, 9, 3, 6}, downloadAs(be, dst, new int[] {9}).toDoubleArray());
        Storage contiguous = be.allocate(dtype, 3);
        be.stridedCopy(src, 5, new long[] {1}, contiguous, 0, new long[] {1}, new int[] {3}); // one run: a plain copy
        assertArrayEquals(new double[] {4, 5, 6}, downloadAs(be, contiguous, new int[] {3}).toDoubleArray());
        be.stridedCopy(src, 8, new long[] {1}, contiguous, 3, new long[] {1}, new int[] {0}); // empty at the very end
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void stridedCopyRefusesWritesOutsideOrOverlapping(DType dtype) {
        Backend be = backend();
        Storage src = upload(be, dtype, new double[] {1, 2, 3, 4});
        Storage dst = be.allocate(dtype, 4);
        IllegalArgumentException past = assertThrows(IllegalArgumentException.class,
                () -> be.stridedCopy(src, 0, new long[] {1}, dst, 1, new long[] {1}, new int[] {4}));
        assertTrue(past.getMessage().contains("storage has only 3"), past.getMessage());
        IllegalArgumentException offset = assertThrows(IllegalArgumentException.class,
                () -> be.stridedCopy(src, 5, new long[] {1}, dst, 0, new long[] {1}, new int[] {1}));
        assertTrue(offset.getMessage().contains("source offset 5"), offset.getMessage());
        IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class,
                () -> be.stridedCopy(src, 0, new long[] {1, 1}, dst, 0, new long[] {0, 1}, new int[] {2, 2}));
        assertTrue(overlap.getMessage().contains("more than once"), overlap.getMessage());
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void binaryMayWriteIntoItsFirstOperand(DType dtype) {
        Backend be = backend();
        Storage a = upload(be, dtype, new double[] {1, 2, 3, 4});
        Storage b = upload(be, dtype, new double[] {10, 20, 30, 40});
        long[] s = {2, 1};
        be.binary(BinaryOp.ADD, a, s, b, s, a, new int[] {2, 2});
        assertArrayEquals(new double[] {11, 22, 33, 44}, downloadAs(be, a, new int[] {4}).toDoubleArray());
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void axpbyUpdatesInPlace(DType dtype) {
        Backend be = backend();
        Random rnd = new Random(12);
        for (int n : new int[] {0, 1, 7, 100_003}) {
            Nd x = rounded(dtype, random(rnd, new int[] {n}, -2, 2));
            Nd y = rounded(dtype, random(rnd, new int[] {n}, -2, 2));
            Storage ys = upload(be, dtype, y.data());
            be.axpby(-0.25, upload(be, dtype, x.data()), 0.5, ys);
            double[] expected = new double[n];
            for (int i = 0; i < n; i++) {
                expected[i] = -0.25 * x.data()[i] + 0.5 * y.data()[i];
            }
            assertClose(new Nd(expected, new int[] {n}), downloadAs(be, ys, new int[] {n}), dtype, "axpby on " + n);
        }
        Tensor p = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        assertThrows(IllegalStateException.class, () -> p.updateInPlace(1, 1, Tensor.ones(DType.FLOAT64, 2)));
        assertThrows(IllegalArgumentException.class, () -> Tensor.ones(DType.FLOAT64, 3).updateInPlace(1, 1, Tensor.ones(DType.FLOAT64, 2)));
        Tensor q = Tensor.of(new double[] {1, 2}, 2);
        q.updateInPlace(2, 3, Tensor.of(new double[] {10, 20}, 2));
        assertArrayEquals(new double[] {32, 64}, q.toDoubleArray());
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void castAndFillAndCopy(DType dtype) {
        Backend be = backend();
        Storage s = be.allocate(dtype, 5);
        be.fill(s, -0.5);
        Storage c = be.allocate(dtype, 5);
        be.copy(s, c);
        DType other = dtype == DType.FLOAT32 ? DType.FLOAT64 : DType.FLOAT32;
        Storage o = be.allocate(other, 5);
        be.cast(c, o);
        double[] out = new double[5];
        be.download(o, out);
        assertArrayEquals(new double[] {-0.5, -0.5, -0.5, -0.5, -0.5}, out);
    }

    // ------------------------------------------------------------------ lifecycle

    @Test
    void closedTensorsRefuseUse() {
        Tensor t = Tensor.ones(DType.FLOAT32, 2);
        Tensor view = t.reshape(2, 1);
        t.close();
        t.close(); // idempotent
        IllegalStateException e = assertThrows(IllegalStateException.class, t::toDoubleArray);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> t.add(1.0));
        assertThrows(IllegalStateException.class, t::shape);
        // a view keeps the shared memory alive
        assertArrayEquals(new double[] {1, 1}, view.toDoubleArray());
    }

    @Test
    void creationRefusesBadArguments() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.of(new double[] {1, 2, 3}, 2, 2));
        assertTrue(e.getMessage().contains("3") && e.getMessage().contains("[2, 2]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.FLOAT32, 2, -1));
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.FLOAT32, 2).item());
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.FLOAT32, 2, 3).sum(2, false));
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.FLOAT32, 2, 0).max(1, false));
    }

    // ------------------------------------------------------------------ helpers

    protected static Storage upload(Backend be, DType dtype, double[] data) {
        if (dtype == DType.FLOAT64) {
            return be.upload(data);
        }
        float[] f = new float[data.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) data[i];
        }
        return be.upload(f);
    }

    /** Reads storage back as a FLOAT64 tensor for comparison. */
    protected static Tensor downloadAs(Backend be, Storage s, int[] shape) {
        double[] out = new double[(int) s.length()];
        be.download(s, out);
        return Tensor.of(out, shape);
    }
}
