package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.GradCheck;
import io.grad4j.autograd.JacobianMode;
import io.grad4j.autograd.NoGrad;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Strided views on every backend: they share storage with their base (writes show both ways),
 * cost no copy, feed every operation, carry gradients in both modes, and keep the version counter
 * honest.
 */
public abstract class ViewConformanceTest extends BackendTestBase {

    /** 0, 1, ..., n-1 in the shape (n its size). */
    private static Tensor iota(DType dtype, int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = i;
        }
        Tensor t = Tensor.of(v, shape);
        return dtype == DType.FLOAT64 ? t : t.to(dtype);
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void viewsReadTheBaseWithoutCopying(DType dtype) {
        Tensor x = iota(dtype, 2, 3, 4);
        Tensor t = x.transpose(0, 2); // [4,3,2]
        assertArrayEquals(new int[] {4, 3, 2}, t.shape());
        assertArrayEquals(new long[] {1, 4, 12}, t.strides());
        assertFalse(t.isContiguous());
        assertEquals(x.version(), t.version());
        double[] tv = t.toDoubleArray();
        assertEquals(0, tv[0]);
        assertEquals(12, tv[1]); // t[0,0,1] = x[1,0,0]
        assertEquals(4, tv[2]);  // t[0,1,0] = x[0,1,0]

        Tensor n = x.narrow(2, 1, 2); // [2,3,2] from element 1
        assertEquals(1, n.storageOffset());
        assertArrayEquals(new double[] {1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}, n.toDoubleArray());
        assertArrayEquals(new double[] {14, 18, 22}, x.select(0, 1).select(1, -2).toDoubleArray()); // x[1,:,2]
        assertArrayEquals(new double[] {8, 9, 10, 11}, x.select(0, 0).narrow(0, -1, 1).reshape(4).toDoubleArray());

        Tensor p = x.permute(1, 2, 0); // [3,4,2]: p[i,j,k] = x[k,i,j]
        assertArrayEquals(new int[] {3, 4, 2}, p.shape());
        assertEquals(12 + 4 + 1, p.toDoubleArray()[(1 * 4 + 1) * 2 + 1]); // p[1,1,1] = x[1,1,1]

        Tensor row = iota(dtype, 3);
        Tensor e = row.unsqueeze(0).expand(2, -1); // [2,3], stride 0 on axis 0
        assertArrayEquals(new long[] {0, 1}, e.strides());
        assertArrayEquals(new double[] {0, 1, 2, 0, 1, 2}, e.toDoubleArray());
        assertArrayEquals(new double[] {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, row.expand(2, 2, 3).toDoubleArray());
        assertArrayEquals(new int[] {3}, row.unsqueeze(-1).squeeze(1).shape());
        assertArrayEquals(new int[] {3, 1}, row.unsqueeze(-1).squeeze(0).shape()); // size 3: left as it is

        Tensor c = t.contiguous();
        assertTrue(c.isContiguous());
        assertArrayEquals(tv, c.toDoubleArray());
        assertSame(x, x.contiguous());
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void reshapeIsAViewWhereTheLayoutAllowsAndACopyElsewhere(DType dtype) {
        Tensor x = iota(dtype, 4, 6);
        Tensor r = x.reshape(2, 2, 6);
        Tensor n = x.narrow(0, 1, 2).reshape(12); // rows 1..2 are contiguous: still a view
        Tensor t = x.transpose().reshape(24);     // a transpose flattened: a copy
        try (NoGrad ignored = Autograd.noGrad()) {
            x.assign(x.mul(-1.0));
        }
        assertEquals(-7, r.toDoubleArray()[7]);
        assertEquals(-6, n.toDoubleArray()[0]);
        assertEquals(6, t.toDoubleArray()[1]); // taken before the write
        Tensor split = x.transpose().reshape(3, 2, 4); // splits the transposed row axis: a view
        assertEquals(x.version(), split.version());
        assertArrayEquals(x.transpose().contiguous().toDoubleArray(), split.toDoubleArray());
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void operationsTakeViews(DType dtype) {
        Tensor a = iota(dtype, 3, 4).mul(0.25);
        Tensor b = iota(dtype, 4, 3).add(1.0);
        Tensor at = a.transpose();           // [4,3], not contiguous
        Tensor bt = b.transpose();           // [3,4]
        assertClose(at.contiguous().add(b), at.add(b), dtype);
        assertClose(at.contiguous().mul(bt.transpose()), at.mul(b), dtype);
        assertClose(at.contiguous().exp(), at.exp(), dtype);
        assertClose(a.matmul(bt.contiguous().transpose().contiguous()), a.matmul(b), dtype);
        assertClose(a.matmul(b), a.matmul(bt.contiguous().transpose()), dtype);        // a transposed view: a GEMM flag
        assertClose(at.contiguous().matmul(a), at.matmul(a), dtype);
        assertClose(a.narrow(1, 1, 2).contiguous().sum(0, false), a.narrow(1, 1, 2).sum(0, false), dtype);
        assertClose(at.contiguous().softmax(1), at.softmax(1), dtype);
        assertClose(at.contiguous().max(0, true), at.max(0, true), dtype);
        assertClose(a.select(0, 2).contiguous().to(DType.FLOAT64), a.select(0, 2).to(DType.FLOAT64), DType.FLOAT64);
        Tensor logits = iota(dtype, 4, 5).mul(0.1);
        assertEquals(logits.crossEntropy(new int[] {1, 0, 4, 2}).item(),
                logits.transpose().contiguous().transpose().crossEntropy(new int[] {1, 0, 4, 2}).item(), 1e-6);
        assertEquals(logits.narrow(0, 1, 2).contiguous().crossEntropy(new int[] {3, 3}).item(),
                logits.narrow(0, 1, 2).crossEntropy(new int[] {3, 3}).item(), 1e-6);
    }

    private static void assertClose(Tensor expected, Tensor actual, DType dtype) {
        assertArrayEquals(expected.shape(), actual.shape());
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            assertEquals(e[i], a[i], atol(dtype) + rtol(dtype) * Math.abs(e[i]), "element " + i);
        }
    }

    @Test
    void gradientsFlowThroughEveryViewInBothModes() {
        Tensor x = Tensor.randn(DType.FLOAT64, 7, 3, 4);
        Tensor row = Tensor.randn(DType.FLOAT64, 8, 4);
        check("transpose", in -> in[0].transpose().exp(), x);
        check("permute", in -> in[0].unsqueeze(1).permute(2, 0, 1).tanh(), x);
        check("narrow", in -> in[0].narrow(1, 1, 2).sigmoid(), x);
        check("select", in -> in[0].select(1, 2).unsqueeze(1).mul(in[0].select(0, -1)), x);
        check("expand", in -> in[0].unsqueeze(0).expand(3, 4).mul(in[1]), row, x);
        check("squeeze", in -> in[0].reshape(3, 1, 4).squeeze(1).pow(2), x);
        check("reshape of a view", in -> in[0].transpose().reshape(12).exp(), x);
        check("matmul with a transposed view", in -> in[0].matmul(in[1].transpose()), x, x);
        check("a view used twice", in -> in[0].narrow(1, 0, 3).add(in[0].narrow(1, 1, 3)).exp(), x);
    }

    /** Reverse mode against central differences, and the Jacobian from JVPs against the one from VJPs. */
    private static void check(String what, Function<Tensor[], Tensor> f, Tensor... inputs) {
        GradCheck.Result r = GradCheck.check(f, inputs);
        assertTrue(r.passed(), what + ": " + r.report());
        Tensor[] rest = inputs.clone();
        Function<Tensor, Tensor> ofFirst = t -> {
            rest[0] = t;
            return f.apply(rest);
        };
        double[] reverse = Autograd.jacobian(ofFirst, inputs[0], JacobianMode.REVERSE).toDoubleArray();
        double[] forward = Autograd.jacobian(ofFirst, inputs[0], JacobianMode.FORWARD).toDoubleArray();
        for (int i = 0; i < reverse.length; i++) {
            assertEquals(reverse[i], forward[i], 1e-12 + 1e-10 * Math.abs(reverse[i]), what + ": Jacobian element " + i);
        }
    }

    @Test
    void aLeafUsedThroughViewsGetsAGradientOfItsOwnShape() {
        Tensor x = Tensor.randn(DType.FLOAT64, 3, 2, 3).requiresGrad(true);
        x.transpose().narrow(0, 1, 2).sum().backward();
        assertArrayEquals(new int[] {2, 3}, x.grad().shape());
        assertTrue(x.grad().isContiguous());
        assertArrayEquals(new double[] {0, 1, 1, 0, 1, 1}, x.grad().toDoubleArray());
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT32", "FLOAT64"})
    void writesIntoAViewReachTheBase(DType dtype) {
        Tensor x = Tensor.zeros(dtype, 3, 4);
        x.narrow(1, 1, 2).assign(iota(dtype, 3, 2).add(1.0));
        assertArrayEquals(new double[] {0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0}, x.toDoubleArray());
        x.transpose().select(0, 3).assign(iota(dtype, 3).add(7.0)); // the last column
        assertArrayEquals(new double[] {0, 1, 2, 7, 0, 3, 4, 8, 0, 5, 6, 9}, x.toDoubleArray());
        x.select(0, 0).updateInPlace(2.0, 1.0, Tensor.ones(dtype, 4));
        assertArrayEquals(new double[] {1, 3, 5, 15, 0, 3, 4, 8, 0, 5, 6, 9}, x.toDoubleArray());
        Tensor source = iota(dtype, 4, 3);
        x.assign(source.transpose()); // from a view into a whole tensor
        assertArrayEquals(source.transpose().contiguous().toDoubleArray(), x.toDoubleArray());
        IllegalArgumentException expanded = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(dtype, 3).unsqueeze(0).expand(2, 3).assign(Tensor.ones(dtype, 2, 3)));
        assertTrue(expanded.getMessage().contains("more than once"), expanded.getMessage());
    }

    /**
     * An operation that saves a view shares its base's version counter, so a write through any
     * other view of the base is caught. A view an operation had to copy for its kernel is saved as
     * that copy, so a later write cannot change its gradient: that backward runs, with the values
     * the forward pass saw.
     */
    @Test
    void aWriteThroughAViewIsSeenByTheVersionCounter() {
        Tensor base = Tensor.randn(DType.FLOAT64, 21, 2, 2, 3);
        Tensor w = Tensor.randn(DType.FLOAT64, 22, 12).requiresGrad(true);
        Tensor product = w.mul(base.reshape(12)); // a dense view: mul saves it as it is
        base.select(0, 1).assign(Tensor.zeros(DType.FLOAT64, 2, 3));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> product.sum().backward());
        assertTrue(e.getMessage().contains("'mul'") && e.getMessage().contains("modified by an in-place operation"),
                e.getMessage());

        Tensor other = Tensor.randn(DType.FLOAT64, 23, 2, 2, 3);
        double[] before = other.narrow(0, 1, 1).toDoubleArray();
        Tensor v = Tensor.randn(DType.FLOAT64, 24, 1, 2, 3).requiresGrad(true);
        Tensor copied = v.mul(other.narrow(0, 1, 1)); // not dense: copied for the kernel, the copy saved
        other.select(0, 1).assign(Tensor.zeros(DType.FLOAT64, 2, 3));
        copied.sum().backward();
        assertArrayEquals(before, v.grad().toDoubleArray());
    }

    @Test
    void badViewArgumentsAreRefusedNamingTheValues() {
        Tensor x = Tensor.zeros(DType.FLOAT32, 2, 3);
        IndexOutOfBoundsException narrow = assertThrows(IndexOutOfBoundsException.class, () -> x.narrow(1, 2, 2));
        assertTrue(narrow.getMessage().contains("narrow") && narrow.getMessage().contains("size 3"), narrow.getMessage());
        IndexOutOfBoundsException select = assertThrows(IndexOutOfBoundsException.class, () -> x.select(0, 2));
        assertTrue(select.getMessage().contains("index 2") && select.getMessage().contains("size 2"), select.getMessage());
        assertThrows(IllegalArgumentException.class, () -> x.narrow(2, 0, 1));
        IllegalArgumentException permute = assertThrows(IllegalArgumentException.class, () -> x.permute(0, 0));
        assertTrue(permute.getMessage().contains("twice"), permute.getMessage());
        IllegalArgumentException expand = assertThrows(IllegalArgumentException.class, () -> x.expand(4, 3));
        assertTrue(expand.getMessage().contains("[2, 3]") && expand.getMessage().contains("[4, 3]"), expand.getMessage());
        assertThrows(IllegalArgumentException.class, () -> x.unsqueeze(4));
    }

    @Test
    void viewsKeepTheirStorageAliveAndCloseIndependently() {
        Tensor x = iota(DType.FLOAT32, 4, 4);
        Tensor v = x.narrow(0, 2, 2);
        x.close();
        assertArrayEquals(new float[] {8, 9, 10, 11, 12, 13, 14, 15}, v.toFloatArray());
        Tensor w = v.transpose();
        v.close();
        assertEquals(4, w.shape()[0]);
        assertNotSame(w, w.contiguous());
        assertThrows(IllegalStateException.class, v::shape);
    }
}
