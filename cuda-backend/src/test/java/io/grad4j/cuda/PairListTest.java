package io.grad4j.cuda;

import io.grad4j.DType;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The multi-tensor kernels' argument, packed without a GPU and compared with the .cu's struct. */
class PairListTest {
    @Test
    void pairsAreLaidOutAsTheKernelsStruct() {
        List<CudaStorage> xs = List.of(at(0x1000, DType.FLOAT32, 1000), at(0x9000, DType.FLOAT32, 1),
                at(0x20000, DType.FLOAT32, 5_000_000));
        List<CudaStorage> ys = List.of(at(0x5000, DType.FLOAT32, 1000), at(0xa000, DType.FLOAT32, 1),
                at(0x40000000L, DType.FLOAT32, 5_000_000));
        long[] s = PairList.pack(xs, ys, 0, 3);
        assertEquals(130, s.length, "1,040 bytes");
        assertEquals(3, s[0]);
        assertArrayEquals(new long[] {0x1000, 0x9000, 0x20000}, java.util.Arrays.copyOfRange(s, 1, 4));
        assertArrayEquals(new long[] {0x5000, 0xa000, 0x40000000L}, java.util.Arrays.copyOfRange(s, 33, 36));
        assertArrayEquals(new long[] {1000, 1, 5_000_000}, java.util.Arrays.copyOfRange(s, 65, 68));
        // blocks: 1000 floats = 250 16-byte packs -> 1 block; 1 float -> 1; 5M floats -> 4883, capped at 4096
        assertArrayEquals(new long[] {0, 1, 2, 4098}, java.util.Arrays.copyOfRange(s, 97, 101));
        assertEquals(4098, PairList.blocks(s));
    }

    @Test
    void doublesTakeTwoPerSixteenBytesAndSlicesStartAtTheirFirstPair() {
        List<CudaStorage> xs = new ArrayList<>();
        List<CudaStorage> ys = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            xs.add(at(0x100000L * (i + 1), DType.FLOAT64, 1024));
            ys.add(at(0x100000L * (i + 100), DType.FLOAT64, 1024));
        }
        long[] s = PairList.pack(xs, ys, 32, 40); // the second launch of 40 pairs
        assertEquals(8, s[0]);
        assertEquals(0x100000L * 33, s[1]);
        assertEquals(0x100000L * 132, s[33]);
        assertEquals(2, s[97 + 1], "1024 doubles = 512 packs = 2 blocks of 256 threads");
        assertEquals(16, PairList.blocks(s));
        assertThrows(IllegalArgumentException.class, () -> PairList.pack(xs, ys, 0, 33));
        assertThrows(IllegalArgumentException.class, () -> PairList.pack(xs, ys, 5, 5));
    }

    @Test
    void theOffsetsAreTheOnesTheKernelFileAsserts() throws IOException {
        String src = Files.readString(Path.of("src/main/cuda/grad4j_kernels.cu"));
        assertTrue(src.contains("#define PAIR_LIST_MAX " + PairList.MAX), "PAIR_LIST_MAX");
        assertTrue(src.contains("offsetof(PairList, x) == " + 8 * PairList.X), "x at long " + PairList.X);
        assertTrue(src.contains("offsetof(PairList, y) == " + 8 * PairList.Y), "y at long " + PairList.Y);
        assertTrue(src.contains("offsetof(PairList, n) == " + 8 * PairList.N), "n at long " + PairList.N);
        assertTrue(src.contains("offsetof(PairList, blockStart) == " + 8 * PairList.BLOCK_START), "blockStart");
        String emulation = Files.readString(Path.of("src/test/cuda/kernel_emulation_test.cpp"));
        assertTrue(emulation.contains("kListBlocksPerPair = " + PairList.BLOCKS_PER_PAIR), "the emulation's block policy");
    }

    private static CudaStorage at(long address, DType dtype, long length) {
        CUdeviceptr p = new CUdeviceptr().withByteOffset(address);
        return new CudaStorage(null, new CachingAllocator.Block<>(p, length * CudaStorage.elementSize(dtype)), dtype, length);
    }
}
