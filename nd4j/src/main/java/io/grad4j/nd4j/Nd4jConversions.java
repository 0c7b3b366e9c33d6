package io.grad4j.nd4j;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;

/**
 * Converts between grad4j's {@link Tensor} and ND4J's {@link INDArray}, so a DL4J/ND4J program can
 * hand its arrays to grad4j (for autograd, or the CUDA backend) and take the results back.
 *
 * <p>The dtypes both have: FLOAT32 &lt;-&gt; {@code DataType.FLOAT}, FLOAT64 &lt;-&gt;
 * {@code DataType.DOUBLE}, INT32 &lt;-&gt; {@code INT}, INT64 &lt;-&gt; {@code LONG} and BOOL &lt;-&gt;
 * {@code BOOL}. Any other ND4J dtype is refused with its name; cast it first
 * ({@code array.castTo(DataType.FLOAT)}). Shapes travel as they are, rank 0 and empty tensors
 * included, and values in row-major order (ND4J's 'c' order); an 'f'-ordered array or a view is
 * read in that logical order.
 *
 * <p>Every conversion copies, once. Zero-copy is not possible with these two layouts: grad4j's cpu
 * backend keeps values in Java heap arrays, which the garbage collector may move, while an
 * INDArray's buffer is off-heap memory owned by ND4J's allocator (and a cuda tensor lives on the
 * GPU). A copy also means neither side can change the other's values afterwards. The tensor made
 * from an INDArray is a new leaf: it carries no gradient history.
 */
public final class Nd4jConversions {
    private Nd4jConversions() {
    }

    /** An INDArray ('c' order) with a copy of the tensor's values, shape and dtype. */
    public static INDArray toINDArray(Tensor tensor) {
        if (tensor == null) {
            throw new NullPointerException("toINDArray: tensor is null");
        }
        long[] shape = Arrays.stream(tensor.shape()).asLongStream().toArray();
        return switch (tensor.dtype()) {
            case FLOAT32 -> tensor.numel() == 0 ? Nd4j.create(DataType.FLOAT, shape, 'c')
                    : Nd4j.create(tensor.toFloatArray(), shape, 'c');
            case FLOAT64 -> tensor.numel() == 0 ? Nd4j.create(DataType.DOUBLE, shape, 'c')
                    : Nd4j.create(tensor.toDoubleArray(), shape, 'c');
            case INT32 -> tensor.numel() == 0 ? Nd4j.create(DataType.INT, shape, 'c')
                    : Nd4j.create(tensor.toIntArray(), shape, DataType.INT);
            case INT64 -> tensor.numel() == 0 ? Nd4j.create(DataType.LONG, shape, 'c')
                    : Nd4j.create(tensor.toLongArray(), shape, DataType.LONG);
            case BOOL -> tensor.numel() == 0 ? Nd4j.create(DataType.BOOL, shape, 'c')
                    : Nd4j.create(tensor.toIntArray(), shape, DataType.BOOL);
        };
    }

    /** A tensor on the current backend ({@link Backends#current()}) with a copy of the array's values. */
    public static Tensor toTensor(INDArray array) {
        return toTensor(array, Backends.current());
    }

    /** A tensor on {@code backend} with a copy of the array's values, shape and dtype. */
    public static Tensor toTensor(INDArray array, Backend backend) {
        if (array == null) {
            throw new NullPointerException("toTensor: array is null");
        }
        if (backend == null) {
            throw new NullPointerException("toTensor: backend is null");
        }
        DataType type = array.dataType();
        DType dtype = switch (type) {
            case FLOAT -> DType.FLOAT32;
            case DOUBLE -> DType.FLOAT64;
            case INT -> DType.INT32;
            case LONG -> DType.INT64;
            case BOOL -> DType.BOOL;
            default -> throw new IllegalArgumentException("toTensor: grad4j has no dtype for ND4J's " + type
                    + " (shape " + Arrays.toString(array.shape()) + "); it converts FLOAT, DOUBLE, INT, LONG and BOOL."
                    + " Cast first, e.g. array.castTo(DataType.FLOAT)");
        };
        int[] shape = intShape(array.shape());
        try (var scope = Backends.use(backend)) {
            if (array.isEmpty() || array.length() == 0) {
                return Tensor.zeros(dtype, shape);
            }
            // dup('c') gives the logical row-major order of a view or an 'f' array; a plain 'c'
            // array is read as it is (asFloat/asDouble copy from its offset, length elements)
            boolean plain = !array.isView() && array.ordering() == 'c' && array.data().length() == array.length();
            INDArray rowMajor = plain ? array : array.dup('c');
            return switch (dtype) {
                case FLOAT32 -> Tensor.of(rowMajor.data().asFloat(), shape);
                case FLOAT64 -> Tensor.of(rowMajor.data().asDouble(), shape);
                case INT32 -> Tensor.of(rowMajor.data().asInt(), shape);
                case INT64 -> Tensor.of(rowMajor.data().asLong(), shape);
                case BOOL -> {
                    int[] bits = rowMajor.data().asInt();
                    boolean[] values = new boolean[bits.length];
                    for (int i = 0; i < bits.length; i++) {
                        values[i] = bits[i] != 0;
                    }
                    yield Tensor.of(values, shape);
                }
            };
        }
    }

    private static int[] intShape(long[] shape) {
        int[] out = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("toTensor: dimension " + i + " of shape "
                        + Arrays.toString(shape) + " is " + shape[i] + ", more than a grad4j tensor's "
                        + Integer.MAX_VALUE + " per dimension");
            }
            out[i] = (int) shape[i];
        }
        return out;
    }
}
