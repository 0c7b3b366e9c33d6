package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Indexing, joining, selection and comparison on every backend: values and gradients against
 * PyTorch's float64 results (fixtures written by scripts/fixtures/ops_fixtures.py), gradcheck in
 * reverse mode and forward mode against reverse, gradients of gradients, and the edge cases
 * PyTorch users hit (repeated indices, out-of-range indices, views, empty tensors, broadcasting).
 */
public abstract class IndexingConformanceTest extends BackendTestBase {

    private static final String FIXTURES = "/io/grad4j/fixtures/ops_torch.safetensors";

    // ------------------------------------------------------------------ PyTorch fixtures

    @Test
    void matchesPyTorch() throws IOException {
        TorchFixtures.check(FIXTURES, IndexingConformanceTest::evaluate, 29);
    }

    private static Tensor[] evaluate(Map<String, String> p, Map<String, Tensor> in) {
        String op = p.get("op");
        return switch (op) {
            case "indexSelect" -> one(in.get("x").indexSelect(axis(p), in.get("index")));
            case "gather" -> one(in.get("x").gather(axis(p), in.get("index")));
            case "scatterAdd" -> one(in.get("x").scatterAdd(axis(p), in.get("index"), in.get("src")));
            case "where" -> one(Tensor.where(in.get("cond"), in.get("a"), in.get("b")));
            case "maskedFill" -> one(in.get("x").maskedFill(in.get("mask"), Double.parseDouble(p.get("value"))));
            case "argmax" -> one(in.get("x").argmax(axis(p), Boolean.parseBoolean(p.get("keepDim"))));
            case "min" -> one(in.get("x").min(axis(p), Boolean.parseBoolean(p.get("keepDim"))));
            case "max" -> one(in.get("x").max(axis(p), Boolean.parseBoolean(p.get("keepDim"))));
            case "cat" -> one(Tensor.cat(axis(p), numbered(in)));
            case "stack" -> one(Tensor.stack(axis(p), numbered(in)));
            case "split" -> in.get("x").split(axis(p), ints(p.get("sizes")));
            case "eq" -> one(in.get("a").eq(in.get("b")));
            case "ne" -> one(in.get("a").ne(in.get("b")));
            case "lt" -> one(in.get("a").lt(in.get("b")));
            case "le" -> one(in.get("a").le(in.get("b")));
            case "gt" -> one(in.get("a").gt(in.get("b")));
            case "ge" -> one(in.get("a").ge(in.get("b")));
            case "eqScalar" -> one(in.get("x").eq(Double.parseDouble(p.get("value"))));
            case "ltScalar" -> one(in.get("x").lt(Double.parseDouble(p.get("value"))));
            case "gtScalar" -> one(in.get("x").gt(Double.parseDouble(p.get("value"))));
            case "embedding" -> one(io.grad4j.nn.Functional.embedding(in.get("indices"), in.get("weight")));
            default -> throw new AssertionError("the fixtures name an op this test does not know: " + op);
        };
    }

    private static Tensor[] one(Tensor t) {
        return new Tensor[] {t};
    }

    private static int axis(Map<String, String> p) {
        return Integer.parseInt(p.get("axis"));
    }

    private static Tensor[] numbered(Map<String, Tensor> in) {
        List<Tensor> ts = new ArrayList<>();
        for (int k = 0; in.containsKey("t" + k); k++) {
            ts.add(in.get("t" + k));
        }
        return ts.toArray(new Tensor[0]);
    }

    // ------------------------------------------------------------------ gradcheck, both modes

    private static Tensor longs(long[] v, int... shape) {
        return Tensor.of(v, shape);
    }

    private static Tensor randomInput(long seed, int... shape) {
        return Tensor.randn(DType.FLOAT64, seed, shape);
    }

    @Test
    void gradcheckInBothModes() {
        Tensor idx2 = longs(new long[] {2, 0, 2, 1, 1, 0}, 2, 3);
        checkBothModes("gather", x -> x.gather(1, idx2), randomInput(1, 2, 4));
        checkBothModes("gather of a transposed view", x -> x.transpose().gather(0, longs(new long[] {3, 3, 0}, 1, 3)),
                randomInput(2, 3, 4));
        Tensor src = randomInput(3, 2, 3);
        checkBothModes("scatterAdd into x", x -> x.scatterAdd(1, idx2, src), randomInput(4, 2, 4));
        Tensor base = randomInput(5, 2, 4);
        checkBothModes("scatterAdd of src", s -> base.scatterAdd(1, idx2, s), randomInput(6, 2, 3));
        Tensor sel = Tensor.of(new int[] {1, 1, 0, 3}, 4);
        checkBothModes("indexSelect", x -> x.indexSelect(-1, sel), randomInput(7, 2, 4));
        Tensor cond = Tensor.of(new boolean[] {true, false, true}, 3, 1);
        Tensor b = randomInput(8, 4);
        checkBothModes("where (a broadcast)", a -> Tensor.where(cond, a, b), randomInput(9, 3, 4));
        checkBothModes("where (b broadcast)", bb -> Tensor.where(cond, b, bb), randomInput(10, 1));
        checkBothModes("maskedFill", x -> x.maskedFill(Tensor.of(new boolean[] {false, true}, 2), -3), randomInput(11, 3, 2));
        Tensor other = randomInput(12, 2, 2);
        checkBothModes("cat", x -> Tensor.cat(1, x, other, x.mul(2)), randomInput(13, 2, 3));
        checkBothModes("stack", x -> Tensor.stack(-1, x, other), randomInput(14, 2, 2));
        checkBothModes("split", x -> x.split(0, 1, 2)[1].mul(x.split(0, 1, 2)[0]), randomInput(15, 3, 2));
        checkBothModes("min", x -> x.min(0, false), randomInput(16, 3, 4));
        checkBothModes("embedding", w -> io.grad4j.nn.Functional.embedding(longs(new long[] {4, 0, 4, 1}, 2, 2), w),
                randomInput(17, 5, 3));
    }

    @Test
    void gradientsOfGradientsMatchClosedForms() {
        // f(x) = sum(where(x > 0, x^3, x^2)): the Hessian is diagonal, 6x where x > 0 and 2 elsewhere
        Tensor x = Tensor.of(new double[] {-1.5, 0.5, 2.0, -0.25}, 4);
        Tensor v = Tensor.of(new double[] {1, 2, 3, 4}, 4);
        Tensor hv = Autograd.hvp(t -> Tensor.where(t.gt(0), t.pow(3), t.pow(2)).sum(), x, v);
        assertArrayEquals(new double[] {2 * 1, 6 * 0.5 * 2, 6 * 2.0 * 3, 2 * 4}, hv.toDoubleArray(), 1e-12);
        // g(w) = sum(embedding(i, w)^2 * c): the Hessian is 2 c_k times how often row k is picked
        Tensor w = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 3, 2);
        Tensor ids = longs(new long[] {2, 0, 2}, 3);
        Tensor hw = Autograd.hvp(t -> t.indexSelect(0, ids).pow(2).sum(), w, Tensor.full(DType.FLOAT64, 1, 3, 2));
        assertArrayEquals(new double[] {2, 2, 0, 0, 4, 4}, hw.toDoubleArray(), 1e-12);
        // gather and scatterAdd: h(x) = sum(gather(x)^2), gather's VJP differentiated again
        Tensor gx = Tensor.of(new double[] {1, 2, 3}, 3);
        Tensor hg = Autograd.hvp(t -> t.gather(0, longs(new long[] {1, 1, 2}, 3)).pow(2).sum(), gx,
                Tensor.full(DType.FLOAT64, 1, 3));
        assertArrayEquals(new double[] {0, 4, 2}, hg.toDoubleArray(), 1e-12);
    }

    // ------------------------------------------------------------------ the fused kernel and its composition

    /**
     * maxBackward is an optional fused kernel: the backend's one-pass version must equal its
     * composition from primitives (argmax, zeros, scatterAdd of the gradient at the argmax),
     * bit for bit, over ties, a NaN and both reduction layouts.
     */
    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void fusedMaxBackwardMatchesItsComposition(DType dtype) {
        io.grad4j.backend.Backend b = backend();
        java.util.Random rnd = new java.util.Random(7);
        for (int[] view : new int[][] {{3, 5, 4}, {6, 70, 1}, {1, 1, 3}}) {
            int outer = view[0];
            int axis = view[1];
            int inner = view[2];
            double[] xv = new double[outer * axis * inner];
            for (int i = 0; i < xv.length; i++) {
                xv[i] = rnd.nextInt(4); // many ties
            }
            xv[xv.length / 2] = Double.NaN;
            double[] gv = new double[outer * inner];
            for (int i = 0; i < gv.length; i++) {
                gv[i] = rnd.nextGaussian();
            }
            io.grad4j.backend.Storage x = upload(b, dtype, xv);
            io.grad4j.backend.Storage g = upload(b, dtype, gv);
            io.grad4j.backend.Storage max = b.allocate(dtype, (long) outer * inner);
            io.grad4j.backend.Storage fused = b.allocate(dtype, xv.length);
            io.grad4j.backend.Storage composed = b.allocate(dtype, xv.length);
            io.grad4j.backend.Storage at = b.allocate(DType.INT64, (long) outer * inner);
            b.reduce(io.grad4j.backend.ReduceOp.MAX, x, max, outer, axis, inner);
            b.maxBackward(x, max, g, fused, outer, axis, inner);
            b.argmax(x, at, outer, axis, inner);
            b.fill(composed, 0.0);
            b.scatterAdd(g, at, new long[] {inner, 0, 1}, composed, axis, outer, 1, inner);
            double[] f = new double[xv.length];
            double[] c = new double[xv.length];
            b.download(fused, f);
            b.download(composed, c);
            for (int i = 0; i < f.length; i++) {
                assertEquals(Double.doubleToRawLongBits(c[i]), Double.doubleToRawLongBits(f[i]),
                        "element " + i + " of " + java.util.Arrays.toString(view) + ": fused " + f[i] + ", composed " + c[i]);
            }
            for (io.grad4j.backend.Storage s : new io.grad4j.backend.Storage[] {x, g, max, fused, composed, at}) {
                s.release();
            }
        }
    }

    private static io.grad4j.backend.Storage upload(io.grad4j.backend.Backend b, DType dtype, double[] v) {
        if (dtype == DType.FLOAT64) {
            return b.upload(v);
        }
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return b.upload(f);
    }

    // ------------------------------------------------------------------ edge cases

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void repeatedIndicesSumInIndexOrder(DType dtype) {
        // 1e8 + 1 - 1e8 in float32 is 0 added left to right, 1 in float64: the order is part of the contract
        Tensor src = Tensor.of(new double[] {1e8, 1, -1e8, 7}, 4).to(dtype);
        Tensor out = Tensor.zeros(dtype, 2).scatterAdd(0, longs(new long[] {0, 0, 0, 1}, 4), src);
        double expected0 = dtype == DType.FLOAT32 ? (double) ((1e8f + 1f) + -1e8f) : 1.0;
        assertArrayEquals(new double[] {expected0, 7}, out.toDoubleArray());
        for (int run = 0; run < 3; run++) { // the same bits every run
            assertArrayEquals(out.toDoubleArray(),
                    Tensor.zeros(dtype, 2).scatterAdd(0, longs(new long[] {0, 0, 0, 1}, 4), src).toDoubleArray());
        }
        // embedding's backward: a row picked three times gets the three upstream rows' sum
        Tensor w = Tensor.zeros(dtype, 3, 2).requiresGrad(true);
        Tensor y = io.grad4j.nn.Functional.embedding(Tensor.of(new int[] {1, 1, 2, 1}, 2, 2), w);
        y.backward(Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8}, 2, 2, 2).to(dtype));
        assertArrayEquals(new double[] {0, 0, 1 + 3 + 7, 2 + 4 + 8, 5, 6}, w.grad().toDoubleArray());
    }

    @Test
    void outOfRangeIndicesAreRefusedNamingThem() {
        Tensor x = Tensor.randn(DType.FLOAT32, 1, 3, 4);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                () -> x.indexSelect(0, longs(new long[] {0, 3}, 2)).toDoubleArray());
        assertTrue(e.getMessage().contains("gather") && e.getMessage().contains("index 3")
                && e.getMessage().contains("size 3"), e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> x.gather(1, longs(new long[] {-1}, 1, 1)).toDoubleArray());
        assertTrue(e.getMessage().contains("index -1") && e.getMessage().contains("size 4"), e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> x.scatterAdd(0, longs(new long[] {5}, 1, 1), Tensor.ones(DType.FLOAT32, 1, 1)).toDoubleArray());
        assertTrue(e.getMessage().contains("scatterAdd") && e.getMessage().contains("index 5"), e.getMessage());
        // the backend is usable afterwards, and reports nothing stale
        assertArrayEquals(new double[] {x.toDoubleArray()[4]}, x.indexSelect(0, longs(new long[] {1}, 1))
                .narrow(1, 0, 1).toDoubleArray());
        assertThrows(IllegalArgumentException.class, () -> x.indexSelect(0, Tensor.of(new double[] {0}, 1)));
        assertThrows(IllegalArgumentException.class, () -> x.gather(0, longs(new long[] {0}, 1)));
        assertThrows(IllegalArgumentException.class, () -> Tensor.cat(0, x, Tensor.zeros(DType.FLOAT32, 3, 5)));
        assertThrows(IllegalArgumentException.class, () -> x.split(1, 1, 2));
        assertThrows(IllegalArgumentException.class, () -> x.maskedFill(Tensor.ones(DType.BOOL, 2, 3, 4), 0));
        assertThrows(IllegalArgumentException.class, () -> Tensor.where(x.gt(0), x, Tensor.zeros(DType.FLOAT64, 4)));
    }

    @Test
    void emptyTensorsAndNegativeAxes() {
        Tensor x = Tensor.randn(DType.FLOAT64, 3, 2, 3);
        assertArrayEquals(new int[] {2, 0}, x.indexSelect(-1, longs(new long[0], 0)).shape());
        assertArrayEquals(new int[] {0, 1}, Tensor.zeros(DType.FLOAT64, 0, 3).indexSelect(1, longs(new long[] {2}, 1))
                .shape());
        Tensor joined = Tensor.cat(-1, x, Tensor.zeros(DType.FLOAT64, 2, 0), x);
        assertArrayEquals(new int[] {2, 6}, joined.shape());
        Tensor[] parts = joined.split(-1, 0, 6, 0);
        assertArrayEquals(new int[] {2, 0}, parts[0].shape());
        assertArrayEquals(joined.toDoubleArray(), parts[1].toDoubleArray());
        assertArrayEquals(new int[] {2, 3, 2}, Tensor.stack(-1, x, x).shape());
        assertArrayEquals(new int[] {2, 2, 3}, Tensor.stack(0, x, x).shape());
        assertArrayEquals(new int[] {2}, x.argmax(-1, false).shape());
        assertArrayEquals(new int[] {2, 1}, x.argmax(1, true).shape());
    }

    @Test
    void argmaxComparisonsAndMasks() {
        Tensor x = Tensor.of(new double[] {1, 5, 5, Double.NaN, 0, 2, Double.NEGATIVE_INFINITY, 3, 3}, 3, 3);
        assertArrayEquals(new long[] {1, 0, 1}, x.argmax(1, false).toLongArray()); // first max; NaN wins
        assertArrayEquals(new long[] {1, 0, 1}, x.to(DType.FLOAT32).argmax(1, false).toLongArray());
        assertArrayEquals(new long[] {1, 0, 0}, Tensor.of(new int[] {1, 9, 9, 4, 2, 2}, 2, 3).argmax(0, false).toLongArray());
        assertEquals(DType.INT64, x.argmax(0, true).dtype());
        // argmax of logits against integer labels: the accuracy idiom
        Tensor labels = Tensor.of(new long[] {1, 0, 2}, 3);
        assertArrayEquals(new boolean[] {true, true, false}, x.argmax(1, false).eq(labels).toBooleanArray());
        // NaN compares unequal to everything, NE true
        assertArrayEquals(new boolean[] {true, false, false},
                x.select(1, 0).eq(Tensor.of(new double[] {1, Double.NaN, 3}, 3)).toBooleanArray());
        assertArrayEquals(new boolean[] {true, true, false},
                Tensor.of(new double[] {Double.NaN, Double.NaN, 1}, 3).ne(Tensor.of(new double[] {Double.NaN, 2, 1}, 3))
                        .toBooleanArray());
        // mixed dtypes compare in the wider one; an integer tensor against a fraction in FLOAT64
        assertArrayEquals(new boolean[] {false, true}, Tensor.of(new int[] {2, 3}, 2).eq(Tensor.of(new double[] {2.5, 3}, 2))
                .toBooleanArray());
        assertArrayEquals(new boolean[] {false, false}, Tensor.of(new int[] {2, 3}, 2).eq(2.5).toBooleanArray());
        assertArrayEquals(new boolean[] {true, false}, Tensor.of(new int[] {2, 3}, 2).lt(2.5).toBooleanArray());
        assertArrayEquals(new boolean[] {true, false}, Tensor.of(new long[] {(1L << 53) + 1, 1L << 53}, 2)
                .eq(Tensor.of(new long[] {(1L << 53) + 1, (1L << 53) + 1}, 2)).toBooleanArray()); // no rounding through double
        // a causal mask: -inf above the diagonal, and softmax of rows that keep one entry
        Tensor scores = Tensor.randn(DType.FLOAT32, 3, 3, 3);
        Tensor upper = Tensor.arange(DType.INT64, 0, 3).unsqueeze(1).lt(Tensor.arange(DType.INT64, 0, 3));
        Tensor p = scores.maskedFill(upper, Double.NEGATIVE_INFINITY).softmax(-1);
        double[] pv = p.toDoubleArray();
        assertEquals(1.0, pv[0], 0);
        assertEquals(0.0, pv[1], 0);
        assertEquals(0.0, pv[2], 0);
        assertEquals(1.0, pv[6] + pv[7] + pv[8], 1e-6);
        assertFalse(Double.isNaN(pv[3]));
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void viewsAndIntegerTensorsGoThroughEveryOp(DType dtype) {
        Tensor base = Tensor.arange(DType.INT64, 0, 12).to(dtype).reshape(3, 4);
        Tensor t = base.transpose(); // [4,3], not contiguous
        assertArrayEquals(new double[] {1, 5, 9, 3, 7, 11}, t.indexSelect(0, Tensor.of(new int[] {1, 3}, 2)).toDoubleArray());
        assertArrayEquals(new double[] {4, 1}, t.gather(1, longs(new long[] {1, 0}, 2, 1)).toDoubleArray());
        assertArrayEquals(new double[] {0, 4, 8, 1, 5, 9}, Tensor.cat(0, t.narrow(0, 0, 1), t.narrow(0, 1, 1)).toDoubleArray());
        Tensor ints = Tensor.of(new int[] {5, 6, 7, 8}, 2, 2);
        assertArrayEquals(new int[] {7, 8, 5, 6}, ints.indexSelect(0, longs(new long[] {1, 0}, 2)).toIntArray());
        assertArrayEquals(new int[] {5, 6, 7, 8, 5, 6}, Tensor.cat(0, ints, ints.narrow(0, 0, 1)).toIntArray());
        assertArrayEquals(new int[] {5, 0, 7, 0}, Tensor.where(Tensor.of(new boolean[] {true, false}, 2), ints,
                Tensor.zeros(DType.INT32, 1)).toIntArray());
        assertArrayEquals(new long[] {11, 2}, Tensor.zeros(DType.INT64, 2).scatterAdd(0, longs(new long[] {0, 1, 0}, 3),
                Tensor.of(new long[] {4, 2, 7}, 3)).toLongArray());
    }
}
