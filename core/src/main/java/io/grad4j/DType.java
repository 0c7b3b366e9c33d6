package io.grad4j;

/** Element type of a tensor. Binary operations never promote: both operands must share a dtype. */
public enum DType {
    FLOAT32(4),
    FLOAT64(8);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes one element occupies. */
    public int byteSize() {
        return byteSize;
    }
}
