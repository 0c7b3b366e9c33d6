package io.grad4j.cuda;

import io.grad4j.backend.MatmulShape;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host-side choice of GEMM kernel, tile and split-K, and the packing of the kernels' argument struct. */
class GemmPlanTest {
    private static final int H100_SMS = 132;

    private static MatmulShape shape(int batch, int m, int n, int k, boolean ta, boolean tb) {
        return new MatmulShape(batch, m, n, k, ta, tb, (long) m * k, (long) k * n);
    }

    @Test
    void largeSquareFloat32UsesTheBigTilesWithoutSplit() {
        GemmPlan p = GemmPlan.choose(shape(1, 4096, 4096, 4096, false, false), true, false, H100_SMS);
        assertEquals("gemm128_f32", p.kernel());
        assertEquals(128, p.tile());
        assertEquals(1, p.splits());
        assertEquals(0, p.workspaceElements(shape(1, 4096, 4096, 4096, false, false)));
    }

    @Test
    void weightGradientOfALargeBatchIsSplitAlongK() {
        // dW1 = X^T G of the 784-512 layer at batch 8192: 7 x 4 tiles of 128 for 132 SMs
        MatmulShape s = shape(1, 784, 512, 8192, true, false);
        GemmPlan p = GemmPlan.choose(s, true, false, H100_SMS);
        assertEquals("gemm128_f32", p.kernel());
        assertTrue(p.splits() > 1, "splits " + p.splits());
        long blocks = 7L * 4 * p.splits();
        assertTrue(blocks >= H100_SMS, "blocks " + blocks);
        assertEquals(0, p.kChunk() % GemmPlan.K_STEP);
        assertTrue((long) p.kChunk() * (p.splits() - 1) < s.k(), "every slice holds some of k");
        assertTrue((long) p.kChunk() * p.splits() >= s.k(), "the slices cover k");
        assertEquals((long) p.splits() * 784 * 512, p.workspaceElements(s));
    }

    @Test
    void slicesCoverKExactlyForAwkwardSizes() {
        for (int k : new int[]{512, 513, 777, 1000, 4097, 65_537}) {
            for (int sms : new int[]{1, 16, 132, 1000}) {
                GemmPlan p = GemmPlan.choose(shape(1, 100, 70, k, false, true), true, false, sms);
                assertTrue((long) p.kChunk() * (p.splits() - 1) < k, "k " + k + " sms " + sms + ": empty last slice in " + p);
                assertTrue((long) p.kChunk() * p.splits() >= k, "k " + k + " sms " + sms + ": uncovered k in " + p);
                assertTrue(p.splits() <= GemmPlan.MAX_SPLITS && p.kChunk() % GemmPlan.K_STEP == 0, p.toString());
                assertTrue(p.splits() == 1 || p.kChunk() >= GemmPlan.MIN_SLICE - GemmPlan.K_STEP, p.toString());
            }
        }
    }

    @Test
    void shortKOrManyTilesIsNeverSplit() {
        assertEquals(1, GemmPlan.choose(shape(1, 128, 512, 300, false, false), true, false, H100_SMS).splits());
        // the batch-8192 forward layer: 256 tiles of 128 already give every SM work
        assertEquals(1, GemmPlan.choose(shape(1, 8192, 512, 784, false, false), true, false, H100_SMS).splits());
        assertEquals(1, GemmPlan.choose(shape(64, 512, 512, 4096, false, false), true, false, H100_SMS).splits());
    }

    @Test
    void thinProductsUseSmallTilesAndDoublesTheFloat64Kernel() {
        assertEquals("gemm_f32", GemmPlan.choose(shape(1, 8192, 10, 256, false, false), true, false, H100_SMS).kernel());
        assertEquals("gemm_f32", GemmPlan.choose(shape(1, 64, 4096, 256, false, false), true, false, H100_SMS).kernel());
        GemmPlan d = GemmPlan.choose(shape(1, 4096, 4096, 4096, false, false), false, false, H100_SMS);
        assertEquals("gemm_f64", d.kernel());
        assertEquals(64, d.tile());
        assertEquals("gemm_tf32", GemmPlan.choose(shape(1, 10, 10, 10, false, false), true, true, H100_SMS).kernel());
        assertEquals("gemm_f64", GemmPlan.choose(shape(1, 1024, 1024, 1024, false, false), false, true, H100_SMS).kernel(),
                "TF32 applies to FLOAT32 only");
    }

    @Test
    void smallProductsUseSmallTilesSoMoreSmsWork() {
        // a batch-128 layer: 4 tiles of 128 even split three ways would leave 120 of 132 SMs idle
        GemmPlan p = GemmPlan.choose(shape(1, 128, 512, 784, false, false), true, false, H100_SMS);
        assertEquals("gemm_f32", p.kernel());
        assertEquals("gemm128_f32", GemmPlan.choose(shape(1, 1024, 1024, 1024, false, false), true, false, H100_SMS).kernel());
    }

    @Test
    void workspaceIsCapped() {
        MatmulShape s = shape(1, 4000, 4000, 1 << 20, false, false);
        GemmPlan p = GemmPlan.choose(s, true, false, 100_000);
        assertTrue(p.workspaceElements(s) * Float.BYTES <= GemmPlan.MAX_WORKSPACE_BYTES, p.toString());
    }

    @Test
    void batchedLaunchesKeepGridZWithinLimits() {
        GemmPlan p = GemmPlan.choose(shape(100_000, 16, 16, 4096, false, false), true, false, H100_SMS);
        assertTrue(p.batchesPerLaunch() * p.splits() <= 65535);
    }

    @Test
    void kernelArgumentsMatchTheCudaStructLayout() {
        MatmulShape s = new MatmulShape(3, 7, 9, 11, true, false, 77, 0);
        GemmPlan p = new GemmPlan("gemm128_f32", 128, 5, 32);
        long[] packed = p.kernelArgs(s, 42, 65535);
        ByteBuffer b = ByteBuffer.allocate(packed.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(packed);
        assertEquals(64, b.capacity(), "sizeof(GemmArgs)");
        // the offsets of struct GemmArgs in grad4j_kernels.cu (static_asserted there)
        int[] ints = {1, 0, 7, 9, 11, s.lda(), s.ldb(), 5, 32, 65535};
        for (int i = 0; i < ints.length; i++) {
            assertEquals(ints[i], b.getInt(4 * i), "int field " + i);
        }
        assertEquals(77, b.getLong(40), "strideA");
        assertEquals(0, b.getLong(48), "strideB");
        assertEquals(42, b.getLong(56), "batchBase");
    }

    /** Only the 64-tile kernels take a bias argument (the .cu's gemm_f32/gemm_f64 signatures). */
    @Test
    void onlyTheSixtyFourTileKernelsAddABias() {
        MatmulShape thin = new MatmulShape(1, 128, 10, 256, false, false, 0, 0);
        MatmulShape big = new MatmulShape(1, 4096, 4096, 4096, false, false, 0, 0);
        assertTrue(GemmPlan.choose(thin, true, false, 132).addsBias());
        assertTrue(GemmPlan.choose(big, false, false, 132).addsBias(), "gemm_f64");
        assertEquals("gemm128_f32", GemmPlan.choose(big, true, false, 132).kernel());
        assertFalse(GemmPlan.choose(big, true, false, 132).addsBias());
        assertFalse(GemmPlan.choose(thin, true, true, 132).addsBias(), "gemm_tf32");
    }

    /** An empty product (a batch of no rows) with a k long enough to split gets a plan, not a division by zero. */
    @Test
    void anEmptyProductGetsAPlanWithoutSplitting() {
        for (MatmulShape empty : new MatmulShape[] {new MatmulShape(1, 0, 3, 600, false, false, 0, 0),
                new MatmulShape(0, 2, 3, 4096, false, false, 0, 0)}) {
            assertEquals(1, GemmPlan.choose(empty, true, false, 132).splits(), empty.toString());
        }
    }
}
