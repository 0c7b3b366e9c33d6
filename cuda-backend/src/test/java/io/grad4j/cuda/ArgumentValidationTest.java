package io.grad4j.cuda;

import io.grad4j.backend.MatmulShape;
import io.grad4j.backend.StridedLayout;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Host-side checks that run before any launch (an out-of-bounds kernel read corrupts silently). */
class ArgumentValidationTest {
    @Test
    void sameShapeOperandsCollapseToOneFlatAxis() {
        StridedLayout l = StridedLayout.of("ADD", new int[]{2, 3, 4}, new long[]{12, 4, 1}, 24, new long[]{12, 4, 1}, 24, 24);
        assertEquals(24, l.elements());
        assertArrayEquals(new int[]{24}, l.shape());
        assertTrue(l.isFlat());
        assertEquals(1, l.aStep());
        assertEquals(1, l.bStep());
    }

    /**
     * Issue 23: a shape whose element count wraps ([2^24, 2^20, 2^20] is 0 in a long) matched an
     * empty output and skipped every operand check, so a kernel got 2^64 elements to walk on empty
     * buffers; strides whose reach overflows looked small; and contiguous axes merged into one int
     * size of 2^32 (0). All are refused or kept apart now.
     */
    @Test
    void countsAndReachesThatOverflowAreRefusedAndMergedAxesStayInts() {
        IllegalArgumentException wrapped = assertThrows(IllegalArgumentException.class, () -> StridedLayout.of("ADD",
                new int[]{1 << 24, 1 << 20, 1 << 20}, new long[]{0, 0, 0}, 0, new long[]{0, 0, 0}, 0, 0));
        assertTrue(wrapped.getMessage().contains("ADD") && wrapped.getMessage().contains("[16777216, 1048576, 1048576]"),
                wrapped.getMessage());
        IllegalArgumentException reach = assertThrows(IllegalArgumentException.class, () -> StridedLayout.of("COPY",
                new int[]{3}, new long[]{Long.MAX_VALUE / 2 + 1}, 4, null, 0, 3));
        assertTrue(reach.getMessage().contains("storage has only 4 elements"), reach.getMessage());
        StridedLayout big = StridedLayout.of("COPY", new int[]{1 << 16, 1 << 16}, new long[]{1 << 16, 1}, 1L << 32, null, 0,
                1L << 32);
        assertEquals(1L << 32, big.elements());
        for (int d : big.shape()) {
            assertTrue(d > 0, "an axis merged past an int: " + java.util.Arrays.toString(big.shape()));
        }
        assertThrows(IllegalArgumentException.class, () -> CudaBackend.checkAxisView("SUM", 0, 1L << 32, 1 << 30, 1L << 2));
        assertDoesNotThrow(() -> CudaBackend.checkAxisView("SUM", 24, 2, 3, 4));
    }

    @Test
    void biasBroadcastKeepsTwoAxesAndScalarIsFlat() {
        StridedLayout bias = StridedLayout.of("ADD", new int[]{5, 3}, new long[]{3, 1}, 15, new long[]{0, 1}, 3, 15);
        assertArrayEquals(new int[]{5, 3}, bias.shape());
        assertArrayEquals(new long[]{0, 1}, bias.bStrides());
        assertFalse(bias.isFlat());
        StridedLayout scalar = StridedLayout.of("MUL", new int[]{4, 6}, new long[]{6, 1}, 24, new long[]{0, 0}, 1, 24);
        assertTrue(scalar.isFlat());
        assertEquals(0, scalar.bStep());
        StridedLayout rank0 = StridedLayout.of("MUL", new int[0], new long[0], 1, new long[0], 1, 1);
        assertEquals(1, rank0.elements());
        assertTrue(rank0.isFlat());
    }

    @Test
    void transposeIsNotFlat() {
        StridedLayout t = StridedLayout.of("stridedCopy", new int[]{3, 2}, new long[]{1, 3}, 6, null, 0, 6);
        assertFalse(t.isFlat());
        assertArrayEquals(new long[]{1, 3}, t.aStrides());
    }

    @Test
    void readsPastTheOperandAreRejectedWithTheNumbers() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StridedLayout.of("ADD", new int[]{2, 3}, new long[]{3, 1}, 5, new long[]{3, 1}, 6, 6));
        assertTrue(e.getMessage().contains("reaches element 5") && e.getMessage().contains("only 5"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> StridedLayout.of("ADD", new int[]{2, 3}, new long[]{1}, 6, new long[]{3, 1}, 6, 6));
        assertThrows(IllegalArgumentException.class,
                () -> StridedLayout.of("ADD", new int[]{2, 3}, new long[]{3, 1}, 6, new long[]{3, 1}, 6, 7));
        assertThrows(IllegalArgumentException.class,
                () -> StridedLayout.of("ADD", new int[]{2, 3}, new long[]{3, -1}, 6, new long[]{3, 1}, 6, 6));
    }

    @Test
    void zeroLengthShapesAreValidWhateverTheStrides() {
        StridedLayout l = StridedLayout.of("ADD", new int[]{0, 3}, new long[]{3, 1}, 0, new long[]{0, 1}, 3, 0);
        assertEquals(0, l.elements());
    }

    @Test
    void tooManyUnmergeableAxesAreRejected() {
        int[] shape = new int[9];
        long[] strides = new long[9];
        long len = 1;
        for (int i = 0; i < 9; i++) {
            shape[i] = 2;
        }
        // strides that never merge: every axis twice the next one's span plus one
        long s = 1;
        for (int i = 8; i >= 0; i--) {
            strides[i] = s;
            s = s * 3;
        }
        len = s;
        long[] fs = strides;
        long fl = len;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KernelDims.layout("stridedCopy", shape, fs, fl, null, 0, 512));
        assertTrue(e.getMessage().contains("at most 8"), e.getMessage());
    }

    @Test
    void matmulBoundsAreChecked() {
        MatmulShape s = new MatmulShape(2, 3, 4, 5, false, false, 15, 0);
        assertDoesNotThrow(() -> s.checkBounds("matmul", 30, 20, 24));
        assertThrows(IllegalArgumentException.class, () -> s.checkBounds("matmul", 29, 20, 24));
        assertThrows(IllegalArgumentException.class, () -> s.checkBounds("matmul", 30, 19, 24));
        assertThrows(IllegalArgumentException.class, () -> s.checkBounds("matmul", 30, 20, 23));
        assertDoesNotThrow(() -> new MatmulShape(1, 0, 4, 5, true, true, 0, 0).checkBounds("matmul", 0, 20, 0));
    }

    @Test
    void gemmChoiceParsesTheProperty() {
        assertEquals(GemmChoice.AUTO, GemmChoice.parse("auto"));
        assertEquals(GemmChoice.CUBLAS, GemmChoice.parse(" CUBLAS "));
        assertEquals(GemmChoice.BUILTIN, GemmChoice.parse("builtin"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GemmChoice.parse("magma"));
        assertTrue(e.getMessage().contains("grad4j.cuda.gemm") && e.getMessage().contains("magma"));
    }
}
