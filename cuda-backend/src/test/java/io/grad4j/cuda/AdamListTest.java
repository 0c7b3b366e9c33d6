package io.grad4j.cuda;

import io.grad4j.DType;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fused Adam kernel's argument, packed without a GPU and compared with the .cu's struct. */
class AdamListTest {
    @Test
    void parametersAreLaidOutAsTheKernelsStruct() {
        List<CudaStorage> p = new ArrayList<>();
        List<CudaStorage> g = new ArrayList<>();
        List<CudaStorage> m = new ArrayList<>();
        List<CudaStorage> v = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            long n = i == 3 ? 5_000_000 : 1000 + i;
            p.add(at(0x10000L * (4 * i + 1), n));
            g.add(at(0x10000L * (4 * i + 2), n));
            m.add(at(0x10000L * (4 * i + 3), n));
            v.add(at(0x10000L * (4 * i + 4), n));
        }
        double[] sizes = new double[20];
        double[] inv = new double[20];
        boolean[] first = new boolean[20];
        for (int i = 0; i < 20; i++) {
            sizes[i] = 0.1 * (i + 1);
            inv[i] = 1.0 / (i + 2);
            first[i] = i % 2 == 0;
        }
        long[] s = AdamList.pack(p, g, m, v, sizes, inv, first, 0, 16);
        assertEquals(1168, 8 * s.length, "bytes");
        assertEquals(16, s[0]);
        assertEquals(0x10000L, s[1]);
        assertEquals(0x20000L, s[1 + 16]);
        assertEquals(0x30000L, s[1 + 32]);
        assertEquals(0x40000L, s[1 + 48]);
        assertEquals(1000, s[AdamList.N]);
        assertEquals(0, s[AdamList.BLOCK_START]);
        assertEquals(1, s[AdamList.BLOCK_START + 1], "1000 floats: one block");
        assertEquals(3 + 4096, s[AdamList.BLOCK_START + 4], "5M floats: capped at 4096 blocks");
        assertEquals(16 + 4095, AdamList.blocks(s));
        assertEquals(0.1, Double.longBitsToDouble(s[AdamList.STEP_SIZE]));
        assertEquals(0.5, Double.longBitsToDouble(s[AdamList.INV_BC2]));
        assertEquals(1, s[AdamList.FIRST]);
        assertEquals(0, s[AdamList.FIRST + 1]);
        long[] rest = AdamList.pack(p, g, m, v, sizes, inv, first, 16, 20);
        assertEquals(4, rest[0]);
        assertEquals(0x10000L * (4 * 16 + 1), rest[1]);
        assertEquals(1.7, Double.longBitsToDouble(rest[AdamList.STEP_SIZE]), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> AdamList.pack(p, g, m, v, sizes, inv, first, 0, 17));
    }

    @Test
    void theOffsetsAreTheOnesTheKernelFileAsserts() throws IOException {
        String src = Files.readString(Path.of("src/main/cuda/grad4j_kernels.cu"));
        assertTrue(src.contains("#define ADAM_LIST_MAX " + AdamList.MAX));
        assertTrue(src.contains("sizeof(AdamList) == " + 8 * AdamList.LONGS));
        String[][] fields = {{"p", "" + AdamList.P}, {"g", "" + AdamList.G}, {"m", "" + AdamList.M}, {"v", "" + AdamList.V},
                {"n", "" + AdamList.N}, {"blockStart", "" + AdamList.BLOCK_START}, {"stepSize", "" + AdamList.STEP_SIZE},
                {"invBiasCorrection2Sqrt", "" + AdamList.INV_BC2}, {"first", "" + AdamList.FIRST}};
        for (String[] f : fields) {
            String assertion = "offsetof(AdamList, " + f[0] + ") == " + 8 * Integer.parseInt(f[1]);
            assertTrue(src.contains(assertion), assertion);
        }
    }

    private static CudaStorage at(long address, long length) {
        CUdeviceptr ptr = new CUdeviceptr().withByteOffset(address);
        return new CudaStorage(null, new CachingAllocator.Block<>(ptr, length * 4), DType.FLOAT32, length);
    }
}
