package io.grad4j.nd4j;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backends;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Nd4jConversionsTest {

    @Test
    void float32TensorRoundTripsThroughINDArray() {
        Tensor t = Tensor.randn(DType.FLOAT32, 7, 3, 4, 5);
        INDArray a = Nd4jConversions.toINDArray(t);
        assertEquals(DataType.FLOAT, a.dataType());
        assertArrayEquals(new long[] {3, 4, 5}, a.shape());
        assertEquals(t.toFloatArray()[1 * 20 + 2 * 5 + 3], a.getFloat(1, 2, 3));
        Tensor back = Nd4jConversions.toTensor(a);
        assertEquals(DType.FLOAT32, back.dtype());
        assertArrayEquals(t.shape(), back.shape());
        assertArrayEquals(t.toFloatArray(), back.toFloatArray());
    }

    @Test
    void float64TensorRoundTripsThroughINDArray() {
        Tensor t = Tensor.randn(DType.FLOAT64, 11, 2, 6);
        INDArray a = Nd4jConversions.toINDArray(t);
        assertEquals(DataType.DOUBLE, a.dataType());
        assertEquals(t.toDoubleArray()[1 * 6 + 4], a.getDouble(1, 4));
        Tensor back = Nd4jConversions.toTensor(a);
        assertEquals(DType.FLOAT64, back.dtype());
        assertArrayEquals(t.toDoubleArray(), back.toDoubleArray());
    }

    @Test
    void rankZeroAndEmptyShapesTravel() {
        Tensor scalar = Tensor.scalar(2.5);
        INDArray a = Nd4jConversions.toINDArray(scalar);
        assertEquals(0, a.rank());
        assertEquals(2.5, a.getDouble(0));
        Tensor back = Nd4jConversions.toTensor(a);
        assertEquals(0, back.rank());
        assertEquals(2.5, back.item());

        Tensor empty = Tensor.zeros(DType.FLOAT32, 0, 3);
        INDArray e = Nd4jConversions.toINDArray(empty);
        assertArrayEquals(new long[] {0, 3}, e.shape());
        Tensor emptyBack = Nd4jConversions.toTensor(e);
        assertArrayEquals(new int[] {0, 3}, emptyBack.shape());
        assertEquals(DType.FLOAT32, emptyBack.dtype());
    }

    @Test
    void viewsAndFortranOrderAreReadInLogicalOrder() {
        INDArray base = Nd4j.arange(0, 12).castTo(DataType.DOUBLE).reshape('c', 3, 4);
        Tensor transposed = Nd4jConversions.toTensor(base.transpose());
        assertArrayEquals(new int[] {4, 3}, transposed.shape());
        assertArrayEquals(new double[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, transposed.toDoubleArray());

        INDArray slice = base.get(NDArrayIndex.interval(1, 3), NDArrayIndex.interval(1, 3));
        assertArrayEquals(new double[] {5, 6, 9, 10}, Nd4jConversions.toTensor(slice).toDoubleArray());

        INDArray fortran = base.dup('f');
        assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
                Nd4jConversions.toTensor(fortran).toDoubleArray());
    }

    @Test
    void conversionsCopySoNeitherSideSeesTheOthersLaterWrites() {
        INDArray a = Nd4j.create(new float[] {1, 2, 3}, new long[] {3}, 'c');
        Tensor t = Nd4jConversions.toTensor(a);
        a.putScalar(0, 100f);
        assertEquals(1f, t.toFloatArray()[0]);
        INDArray b = Nd4jConversions.toINDArray(t);
        b.putScalar(1, -5f);
        assertEquals(2f, t.toFloatArray()[1]);
    }

    @Test
    void otherDtypesAreRefusedWithTheirName() {
        INDArray shorts = Nd4j.createFromArray(new short[] {1, 2, 3});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Nd4jConversions.toTensor(shorts));
        assertTrue(e.getMessage().contains("SHORT"), e.getMessage());
        assertTrue(e.getMessage().contains("castTo"), e.getMessage());
    }

    /** Indices, labels and masks: INT32 <-> INT, INT64 <-> LONG, BOOL <-> BOOL, both ways, views included. */
    @Test
    void integerAndBoolTensorsRoundTrip() {
        Tensor ints = Tensor.of(new int[] {1, -2, 3, Integer.MAX_VALUE, 5, 6}, 2, 3);
        INDArray i = Nd4jConversions.toINDArray(ints);
        assertEquals(DataType.INT, i.dataType());
        assertArrayEquals(new long[] {2, 3}, i.shape());
        assertEquals(Integer.MAX_VALUE, i.getInt(1, 0));
        assertArrayEquals(ints.toIntArray(), Nd4jConversions.toTensor(i).toIntArray());
        assertEquals(DType.INT32, Nd4jConversions.toTensor(i).dtype());

        Tensor longs = Tensor.of(new long[] {1L << 40, -3, 7}, 3);
        INDArray l = Nd4jConversions.toINDArray(longs);
        assertEquals(DataType.LONG, l.dataType());
        assertEquals(1L << 40, l.getLong(0));
        assertArrayEquals(longs.toLongArray(), Nd4jConversions.toTensor(l).toLongArray());

        Tensor mask = Tensor.of(new boolean[] {true, false, true, true}, 2, 2);
        INDArray b = Nd4jConversions.toINDArray(mask);
        assertEquals(DataType.BOOL, b.dataType());
        Tensor back = Nd4jConversions.toTensor(b.transpose()); // a view, read in its logical order
        assertEquals(DType.BOOL, back.dtype());
        assertArrayEquals(new boolean[] {true, true, false, true}, back.toBooleanArray());
    }

    /** ND4J and the cpu backend on one classpath: one JavaCPP loads both native libraries. */
    @Test
    void nd4jAndTheCpuBackendAgreeOnAProductAndGradientsFlowFromAnINDArray() {
        assertEquals("cpu", Backends.current().name());
        assertTrue(Backends.current().description().contains("matmul engine openblas"), Backends.current().description());
        INDArray x = Nd4j.rand(DataType.DOUBLE, 5, 4);
        INDArray w = Nd4j.rand(DataType.DOUBLE, 4, 3);
        INDArray expected = x.mmul(w);

        Tensor tx = Nd4jConversions.toTensor(x);
        Tensor tw = Nd4jConversions.toTensor(w).requiresGrad(true);
        Tensor product = tx.matmul(tw);
        double[] got = product.toDoubleArray();
        double[] want = expected.data().asDouble();
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], 1e-12, "element " + i);
        }
        product.sum().backward();
        // d(sum(x w))/dw = x^T 1: each row of the gradient is a column sum of x
        INDArray columnSums = x.sum(0);
        double[] grad = tw.grad().toDoubleArray();
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 3; c++) {
                assertEquals(columnSums.getDouble(r), grad[r * 3 + c], 1e-12);
            }
        }
        assertArrayEquals(grad, Nd4jConversions.toINDArray(tw.grad()).data().asDouble());
    }

    /** The README's example for DL4J users, as written there. */
    @Test
    void theReadmeExampleRuns() {
        INDArray features = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.DOUBLE, 32, 4);  // from a DL4J pipeline
        Tensor x = Nd4jConversions.toTensor(features);                  // a copy, on the current backend
        Tensor w = Tensor.randn(io.grad4j.DType.FLOAT64, 0, 4, 1).requiresGrad(true);
        Tensor loss = x.matmul(w).tanh().pow(2).mean();
        loss.backward();
        INDArray gradient = Nd4jConversions.toINDArray(w.grad());       // back to ND4J, shape [4, 1]
        assertArrayEquals(new long[] {4, 1}, gradient.shape());
        assertTrue(gradient.norm2Number().doubleValue() > 0, "a non-zero gradient");
    }
}
