package io.grad4j.cuda;

import io.grad4j.DType;
import jcuda.NativePointerObject;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUstream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The native kernel launcher without a GPU: its argument packing read back from its buffers, and
 * its foreign-function call to {@code cuLaunchKernel} made against a stand-in library
 * (src/test/cuda/fake_driver/fake_launch.c, built with the system C compiler) that records what it
 * received. A wrong function descriptor, argument order or encoding shows up as wrong records.
 */
class NativeKernelLauncherTest {
    private static final Path FAKE_SOURCE = Path.of("src/test/cuda/fake_driver/fake_launch.c");
    private static final Path FAKE_LIBRARY = Path.of("target/fake-driver/libfake_launch.so");
    private static SymbolLookup fake;
    /** A lookup for launchers that only pack: any non-null address binds, and nothing calls it. */
    private static final SymbolLookup NEVER_CALLED = name -> java.util.Optional.of(MemorySegment.ofAddress(0x1000));

    @BeforeAll
    static void buildFakeDriver() throws Exception {
        String cc = onPath("gcc") ? "gcc" : onPath("cc") ? "cc" : null;
        if (cc == null || !Files.exists(FAKE_SOURCE)) {
            return; // the tests that call through the fake skip themselves
        }
        Files.createDirectories(FAKE_LIBRARY.getParent());
        Process p = new ProcessBuilder(cc, "-shared", "-fPIC", "-O1", "-o", FAKE_LIBRARY.toAbsolutePath().toString(),
                FAKE_SOURCE.toAbsolutePath().toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the C compiler did not finish");
        assertEquals(0, p.exitValue(), () -> "building the fake driver failed:\n" + out);
        fake = SymbolLookup.libraryLookup(FAKE_LIBRARY.toAbsolutePath(), Arena.global());
    }

    @Test
    void argumentsArePackedAtAlignedOffsetsWithAPointerEach() {
        NativeKernelLauncher launcher = new NativeKernelLauncher(NEVER_CALLED, "none");
        CudaStorage storage = storageAt(0x7f00_1234_5000L);
        long[] struct = {1, -2, 3, 4, 5, 6, 7, 8};
        int used = launcher.pack(new Object[] {7, storage, 3L, 1.5f, -2.25, struct, 9});
        MemorySegment v = launcher.values();
        MemorySegment params = launcher.params();
        long base = v.address();
        // int at 0, pointer at 8, long at 16, float at 24, double at 32, 64-byte struct at 40, int at 104
        long[] offsets = {0, 8, 16, 24, 32, 40, 104};
        for (int i = 0; i < offsets.length; i++) {
            assertEquals(base + offsets[i], params.getAtIndex(JAVA_LONG, i), "kernelParams[" + i + "]");
        }
        assertEquals(112, used);
        assertEquals(7, v.get(JAVA_INT, 0));
        assertEquals(0x7f00_1234_5000L, v.get(JAVA_LONG, 8));
        assertEquals(3L, v.get(JAVA_LONG, 16));
        assertEquals(1.5f, v.get(JAVA_FLOAT, 24));
        assertEquals(-2.25, v.get(JAVA_DOUBLE, 32));
        assertArrayEquals(struct, v.asSlice(40, 64).toArray(JAVA_LONG));
        assertEquals(9, v.get(JAVA_INT, 104));
    }

    @Test
    void unsupportedOrTooManyArgumentsAreRefusedByName() {
        NativeKernelLauncher launcher = new NativeKernelLauncher(NEVER_CALLED, "none");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> launcher.pack(new Object[] {"x"}));
        assertTrue(e.getMessage().contains("unsupported kernel argument x"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> launcher.pack(new Object[] {(short) 1}));
        assertThrows(IllegalArgumentException.class, () -> launcher.pack(new Object[NativeKernelLauncher.MAX_ARGS + 1]));
        assertThrows(IllegalArgumentException.class, () -> launcher.pack(new Object[] {new long[NativeKernelLauncher.VALUE_BYTES / 8 + 1]}));
    }

    @Test
    void theDriverCallReceivesHandlesGridBlockAndEveryArgument() throws Exception {
        assumeTrue(fake != null, "no C compiler (gcc or cc) to build the fake driver library");
        NativeKernelLauncher launcher = new NativeKernelLauncher(fake, FAKE_LIBRARY.toString());
        CUfunction function = withAddress(new CUfunction(), 0x1111_2222L);
        CUstream stream = withAddress(new CUstream(), 0x3333_4444L);
        long[] gemmArgs = {0x0000_0001_0000_0000L, 300L << 32 | 200, 784L << 32 | 784, 4L << 32 | 512, 7, 1, 2, 3};
        Object[] args = {2, storageAt(0xdead_b000L), 65536L, 0.5f, 0.25, gemmArgs};
        setSizes(4, 8, 8, 4, 8, 64);
        setInt("fake_result", 0);
        int calls = getInt("fake_calls");

        assertEquals(0, launcher.launch(function, 40, 30, 20, 256, stream, args));

        assertEquals(calls + 1, getInt("fake_calls"));
        assertEquals(0x1111_2222L, getLong("fake_function"));
        assertEquals(0x3333_4444L, getLong("fake_stream"));
        assertEquals(0L, getLong("fake_extra"), "extra is NULL");
        assertArrayEquals(new int[] {40, 30, 20}, ints("fake_grid", 3));
        assertArrayEquals(new int[] {256, 1, 1}, ints("fake_block", 3));
        assertEquals(0, getInt("fake_shared"));
        MemorySegment bytes = fake.findOrThrow("fake_param_bytes").reinterpret(32 * 64);
        assertEquals(2, bytes.get(JAVA_INT, 0));
        assertEquals(0xdead_b000L, bytes.get(JAVA_LONG, 64));
        assertEquals(65536L, bytes.get(JAVA_LONG, 128));
        assertEquals(0.5f, bytes.get(JAVA_FLOAT, 192));
        assertEquals(0.25, bytes.get(JAVA_DOUBLE, 256));
        assertArrayEquals(gemmArgs, bytes.asSlice(320, 64).toArray(JAVA_LONG));
    }

    @Test
    void theDriversStatusComesBack() throws Exception {
        assumeTrue(fake != null, "no C compiler (gcc or cc) to build the fake driver library");
        NativeKernelLauncher launcher = new NativeKernelLauncher(fake, FAKE_LIBRARY.toString());
        setSizes(4);
        setInt("fake_result", 701); // CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES
        try {
            assertEquals(701, launcher.launch(new CUfunction(), 1, 1, 1, 32, new CUstream(), new Object[] {1}));
        } finally {
            setInt("fake_result", 0);
        }
    }

    private static CudaStorage storageAt(long address) {
        CUdeviceptr p = new CUdeviceptr().withByteOffset(address); // a null handle plus an offset: that address
        return new CudaStorage(null, new CachingAllocator.Block<>(p, 512), DType.FLOAT32, 128);
    }

    private static <T extends NativePointerObject> T withAddress(T handle, long address) throws Exception {
        Field f = NativePointerObject.class.getDeclaredField("nativePointer");
        f.setAccessible(true);
        f.setLong(handle, address);
        return handle;
    }

    private static void setSizes(int... sizes) {
        MemorySegment s = fake.findOrThrow("fake_param_sizes").reinterpret(32 * 4);
        s.fill((byte) 0);
        for (int i = 0; i < sizes.length; i++) {
            s.setAtIndex(JAVA_INT, i, sizes[i]);
        }
    }

    private static int getInt(String symbol) {
        return fake.findOrThrow(symbol).reinterpret(4).get(JAVA_INT, 0);
    }

    private static void setInt(String symbol, int value) {
        fake.findOrThrow(symbol).reinterpret(4).set(JAVA_INT, 0, value);
    }

    private static long getLong(String symbol) {
        return fake.findOrThrow(symbol).reinterpret(8).get(JAVA_LONG, 0);
    }

    private static int[] ints(String symbol, int n) {
        return fake.findOrThrow(symbol).reinterpret(4L * n).toArray(JAVA_INT);
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
