package io.grad4j.cuda;

import io.grad4j.backend.BackendProvider;
import io.grad4j.backend.Backends;
import org.junit.jupiter.api.Test;

import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs everywhere: on a machine without a GPU the probe must explain itself, never throw. */
class CudaProbeTest {
    @Test
    void probeGivesOneCachedResultWithAOneLineReason() {
        CudaProbe.Result first = CudaProbe.result();
        CudaProbe.Result second = CudaProbe.result();
        assertSame(first, second, "the probe runs once per JVM");
        assertFalse(first.reason().isBlank());
        assertFalse(first.reason().contains("\n"), first.reason());
        if (first.available()) {
            assertEquals("available", first.reason());
            assertTrue(first.deviceCount() >= 1);
            assertTrue(first.computeCapability() >= CudaProbe.MIN_COMPUTE_CAPABILITY);
        } else {
            assertEquals(0, first.deviceCount());
            assertFalse(first.reason().contains("NoClassDefFoundError"), "the first, informative failure is kept: " + first.reason());
            System.out.println("cuda probe here: " + first.reason());
        }
    }

    @Test
    void probingAgainAfterAFailureDoesNotThrow() {
        // JCuda's class is in a failed state after a missing libcuda: a second probe must still answer.
        CudaProbe.Result again = CudaProbe.probe("0");
        assertEquals(CudaProbe.result().available(), again.available());
        if (!again.available()) {
            assertEquals(CudaProbe.result().reason(), again.reason());
        }
        assertFalse(again.reason().isBlank());
    }

    @Test
    void badDevicePropertyIsExplained() {
        CudaProbe.Result r = CudaProbe.probe("first");
        assertFalse(r.available());
        assertTrue(r.reason().contains("grad4j.cuda.device") && r.reason().contains("first"), r.reason());
        assertTrue(CudaProbe.probe("-1").reason().contains(">= 0"));
        CudaProbe.Result tooHigh = CudaProbe.probe("4096");
        assertFalse(tooHigh.available());
    }

    @Test
    void linkReasonNamesTheMissingDriverLibrary() {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("Error while loading native library \"JCudaDriver-12.6.0-linux-x86_64\"");
        e.initCause(new UnsatisfiedLinkError("/tmp/libJCudaDriver-12.6.0-linux-x86_64.so: libcuda.so.1: cannot open shared object file"));
        assertTrue(CudaProbe.linkReason(e).startsWith("libcuda.so.1 not found"), CudaProbe.linkReason(e));
        assertTrue(CudaProbe.linkReason(new NoClassDefFoundError("Could not initialize class jcuda.driver.JCudaDriver"))
                .startsWith("JCuda could not be initialised"));
        assertEquals("13.0", CudaProbe.versionString(13000));
        assertEquals("12.6", CudaProbe.versionString(12060));
    }

    @Test
    void providerIsRegisteredAndReportsTheProbe() {
        CudaBackendProvider provider = null;
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p instanceof CudaBackendProvider c) {
                provider = c;
            }
        }
        assertTrue(provider != null, "META-INF/services registers CudaBackendProvider");
        assertEquals("cuda", provider.name());
        assertEquals(100, provider.priority());
        assertEquals(CudaProbe.result().available(), provider.isAvailable());
        assertEquals(CudaProbe.result().reason(), provider.unavailableReason());
        if (!provider.isAvailable()) {
            IllegalStateException e = assertThrows(IllegalStateException.class, provider::create);
            assertTrue(e.getMessage().contains(CudaProbe.result().reason()));
            IllegalStateException viaBackends = assertThrows(IllegalStateException.class, () -> Backends.get("cuda"));
            assertTrue(viaBackends.getMessage().contains(CudaProbe.result().reason()), viaBackends.getMessage());
            assertFalse(Backends.available().contains("cuda"));
        }
    }
}
