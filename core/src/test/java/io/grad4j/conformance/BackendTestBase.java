package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.conformance.NaiveReference.Nd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Shared plumbing of the conformance suites: every test runs with {@link #backend()} as the
 * current backend, and compares results with {@link NaiveReference} under dtype-appropriate
 * tolerances.
 */
public abstract class BackendTestBase {
    private Backends.Scope scope;

    /** The backend under test. */
    protected abstract Backend backend();

    @BeforeEach
    void useBackendUnderTest() {
        scope = Backends.use(backend());
    }

    @AfterEach
    void restoreBackend() {
        if (scope != null) {
            scope.close();
        }
    }

    /**
     * f checked by central differences (gradcheck, reverse mode), and its forward-mode Jacobian
     * equal to the reverse-mode one: each operation's VJP and JVP rules against each other.
     */
    protected static void checkBothModes(String what, java.util.function.Function<Tensor, Tensor> f, Tensor x) {
        io.grad4j.autograd.GradCheck.Result r = io.grad4j.autograd.GradCheck.check(in -> f.apply(in[0]), x);
        org.junit.jupiter.api.Assertions.assertTrue(r.passed(), what + ": " + r.report());
        double[] reverse = io.grad4j.autograd.Autograd.jacobian(f, x, io.grad4j.autograd.JacobianMode.REVERSE).toDoubleArray();
        double[] forward = io.grad4j.autograd.Autograd.jacobian(f, x, io.grad4j.autograd.JacobianMode.FORWARD).toDoubleArray();
        assertArrayEquals(reverse, forward, 1e-10, what + ": forward-mode Jacobian differs from reverse mode");
    }

    /** "2,0,5" as {2, 0, 5}: the integer lists of the PyTorch fixtures' metadata. */
    protected static int[] ints(String csv) {
        String[] parts = csv.split(",");
        int[] v = new int[parts.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = Integer.parseInt(parts[i]);
        }
        return v;
    }

    /** |actual - expected| <= atol + rtol * |expected| per element. */
    protected static double rtol(DType dtype) {
        return dtype == DType.FLOAT32 ? 2e-4 : 1e-10;
    }

    protected static double atol(DType dtype) {
        return dtype == DType.FLOAT32 ? 2e-5 : 1e-12;
    }

    protected static Tensor tensor(DType dtype, Nd x) {
        Tensor t = Tensor.of(x.data(), x.shape());
        return dtype == DType.FLOAT64 ? t : t.to(dtype);
    }

    /** The values as the given dtype would hold them, so the reference starts from the same numbers. */
    protected static Nd rounded(DType dtype, Nd x) {
        if (dtype == DType.FLOAT64) {
            return x;
        }
        double[] r = new double[x.data().length];
        for (int i = 0; i < r.length; i++) {
            r[i] = (float) x.data()[i];
        }
        return new Nd(r, x.shape());
    }

    protected static Nd random(Random rnd, int[] shape, double lo, double hi) {
        double[] d = new double[(int) NaiveReference.numel(shape)];
        for (int i = 0; i < d.length; i++) {
            d[i] = lo + (hi - lo) * rnd.nextDouble();
        }
        return new Nd(d, shape);
    }

    protected static void assertClose(Nd expected, Tensor actual, DType dtype, String context) {
        assertClose(expected, actual, rtol(dtype), atol(dtype), context);
    }

    protected static void assertClose(Nd expected, Tensor actual, double rtol, double atol, String context) {
        assertArrayEquals(expected.shape(), actual.shape(), context + ": shape");
        double[] got = actual.toDoubleArray();
        double[] want = expected.data();
        for (int i = 0; i < want.length; i++) {
            double w = want[i];
            double g = got[i];
            boolean ok = Double.isNaN(w) ? Double.isNaN(g)
                    : (w == g) || Math.abs(g - w) <= atol + rtol * Math.abs(w);
            if (!ok) {
                fail(context + ": element " + Arrays.toString(NaiveReference.unravel(i, expected.shape()))
                        + " of shape " + Arrays.toString(expected.shape()) + ": expected " + w + " but got " + g
                        + " (rtol " + rtol + ", atol " + atol + ")");
            }
        }
    }

    /** Shapes covering rank 0, size-1 axes and ordinary sizes. */
    protected static int[] randomShape(Random rnd, int maxRank) {
        int rank = rnd.nextInt(maxRank + 1);
        int[] s = new int[rank];
        for (int i = 0; i < rank; i++) {
            s[i] = rnd.nextInt(4) == 0 ? 1 : 1 + rnd.nextInt(5);
        }
        return s;
    }

    /** A shape that broadcasts with s: a suffix of s with some axes set to 1. */
    protected static int[] broadcastPartner(Random rnd, int[] s) {
        int drop = s.length == 0 ? 0 : rnd.nextInt(s.length + 1);
        int[] p = Arrays.copyOfRange(s, drop, s.length);
        for (int i = 0; i < p.length; i++) {
            if (rnd.nextInt(3) == 0) {
                p[i] = 1;
            }
        }
        return p;
    }
}
