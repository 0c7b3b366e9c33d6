package io.grad4j;

/**
 * Element type of a tensor. Binary operations never promote: both operands must share a dtype.
 * The integer types and BOOL carry no gradient; they hold indices, labels and masks, and the
 * arithmetic operations take floating-point tensors (convert with {@code to(DType)}).
 */
public enum DType {
    FLOAT32(4, true),
    FLOAT64(8, true),
    INT32(4, false),
    INT64(8, false),
    /** One byte per element, 0 or 1. */
    BOOL(1, false);

    private final int byteSize;
    private final boolean floatingPoint;

    DType(int byteSize, boolean floatingPoint) {
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
    }

    /** Bytes one element occupies. */
    public int byteSize() {
        return byteSize;
    }

    /** FLOAT32 or FLOAT64: the dtypes that differentiate and that arithmetic takes. */
    public boolean isFloatingPoint() {
        return floatingPoint;
    }
}
