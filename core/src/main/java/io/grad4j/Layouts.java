package io.grad4j;

/**
 * Arithmetic on layouts (shape, strides): whether one is contiguous, and the strides a reshape can
 * keep without copying.
 */
final class Layouts {
    private Layouts() {
    }

    /** Row-major without gaps; axes of size 1 may have any stride, and an empty tensor is contiguous. */
    static boolean isContiguous(int[] shape, long[] strides) {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] == 0) {
                return true;
            }
            if (shape[i] != 1) {
                if (strides[i] != expected) {
                    return false;
                }
                expected *= shape[i];
            }
        }
        return true;
    }

    /**
     * Strides that lay {@code newShape} over the same elements as (shape, strides) in row-major
     * order, or null when no strides can (a transposed tensor flattened): then a reshape copies.
     * Runs of old axes that are contiguous with one another can be split and merged freely;
     * PyTorch's {@code computeStride} works the same way.
     */
    static long[] reshapeStrides(int[] shape, long[] strides, int[] newShape) {
        long[] out = new long[newShape.length];
        long numel = 1;
        for (int d : shape) {
            numel *= d;
        }
        if (numel == 0 || shape.length == 0) {
            return io.grad4j.backend.StridedLayout.contiguousStrides(newShape);
        }
        int viewAxis = newShape.length - 1;
        long chunkBase = strides[shape.length - 1];
        long tensorElements = 1;
        long viewElements = 1;
        for (int axis = shape.length - 1; axis >= 0; axis--) {
            tensorElements *= shape[axis];
            // a chunk of old axes ends here if the next one out is not contiguous with it
            if (axis == 0 || (shape[axis - 1] != 1 && strides[axis - 1] != tensorElements * chunkBase)) {
                while (viewAxis >= 0 && (viewElements < tensorElements || newShape[viewAxis] == 1)) {
                    out[viewAxis] = viewElements * chunkBase;
                    viewElements *= newShape[viewAxis];
                    viewAxis--;
                }
                if (viewElements != tensorElements) {
                    return null;
                }
                if (axis > 0) {
                    chunkBase = strides[axis - 1];
                    tensorElements = 1;
                    viewElements = 1;
                }
            }
        }
        return viewAxis == -1 ? out : null;
    }
}
