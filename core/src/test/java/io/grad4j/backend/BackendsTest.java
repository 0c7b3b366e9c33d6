package io.grad4j.backend;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Selection rules of API.md, with fake providers (core itself has no backend). */
class BackendsTest {

    private static Backend fakeBackend(String name) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> name;
                    case "description" -> name + " (fake)";
                    case "toString" -> name;
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    private static BackendProvider provider(String name, int priority, String unavailable) {
        return new BackendProvider() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public int priority() {
                return priority;
            }

            @Override
            public boolean isAvailable() {
                return unavailable == null;
            }

            @Override
            public String unavailableReason() {
                return unavailable == null ? "available" : unavailable;
            }

            @Override
            public Backend create() {
                if (unavailable != null) {
                    throw new AssertionError("create() called on an unavailable provider");
                }
                return fakeBackend(name);
            }
        };
    }

    @Test
    void autoPicksTheAvailableProviderOfHighestPriorityAndSaysWhyItFellBack() {
        List<String> logged = new ArrayList<>();
        Logger logger = Logger.getLogger(Backends.class.getName());
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                logged.add(r.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(h);
        try {
            List<BackendProvider> installed = List.of(provider("fakegpu1", 100, "no CUDA device"), provider("fakecpu1", 10, null));
            Backend b = Backends.choose("auto", installed);
            assertEquals("fakecpu1", b.name());
            assertEquals(1, logged.size(), logged.toString());
            assertTrue(logged.get(0).contains("fakecpu1") && logged.get(0).contains("no CUDA device"), logged.get(0));
        } finally {
            logger.removeHandler(h);
        }
    }

    @Test
    void aKnownBackendWhoseArtifactIsMissingOrThatFailsToStartIsUnavailableNotAnError() {
        List<BackendProvider> cpuOnly = List.of(provider("cpu", 10, null));
        BackendUnavailableException missing = assertThrows(BackendUnavailableException.class, () -> Backends.create("cuda", cpuOnly));
        assertEquals("cuda", missing.backendName());
        assertTrue(missing.getMessage().contains("grad4j-cuda-backend"), missing.getMessage());

        BackendProvider failsToStart = new BackendProvider() {
            @Override
            public String name() {
                return "fakegpu9";
            }

            @Override
            public int priority() {
                return 100;
            }

            @Override
            public boolean isAvailable() {
                return true;
            }

            @Override
            public String unavailableReason() {
                return "available";
            }

            @Override
            public Backend create() {
                throw new IllegalStateException("the driver refused the kernels' fatbin");
            }
        };
        BackendUnavailableException failed = assertThrows(BackendUnavailableException.class,
                () -> Backends.create("fakegpu9", List.of(failsToStart)));
        assertTrue(failed.getMessage().contains("could not start") && failed.getMessage().contains("fatbin"), failed.getMessage());
        assertTrue(failed.getCause() instanceof IllegalStateException);
    }

    @Test
    void namingAnUnavailableBackendFailsWithItsReason() {
        List<BackendProvider> installed = List.of(provider("fakegpu2", 100, "libcuda.so.1 not found"), provider("fakecpu2", 10, null));
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.choose("fakegpu2", installed));
        assertTrue(e.getMessage().contains("libcuda.so.1 not found"), e.getMessage());
        assertEquals("fakegpu2", e.backendName());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> Backends.choose("tpu", installed));
        assertTrue(unknown.getMessage().contains("tpu") && unknown.getMessage().contains("fakecpu2"), unknown.getMessage());
        BackendUnavailableException none = assertThrows(BackendUnavailableException.class,
                () -> Backends.choose("auto", List.of(provider("fakegpu3", 100, "no CUDA device"))));
        assertTrue(none.getMessage().contains("no CUDA device"), none.getMessage());
        assertEquals("auto", none.backendName());
        // still an IllegalStateException, as before the type existed
        assertTrue(none instanceof IllegalStateException);
    }

    @Test
    void propertyWinsOverTheDefault() {
        String before = System.getProperty(Backends.PROPERTY);
        try {
            System.setProperty(Backends.PROPERTY, " CUDA ");
            assertEquals("cuda", Backends.requestedName());
            System.clearProperty(Backends.PROPERTY);
            String env = System.getenv(Backends.ENV);
            assertEquals(env == null || env.isBlank() ? "auto" : env.trim().toLowerCase(), Backends.requestedName());
        } finally {
            if (before != null) {
                System.setProperty(Backends.PROPERTY, before);
            }
        }
    }

    @Test
    void useOverridesTheCurrentBackendForThisThreadOnly() throws Exception {
        Backend fake = fakeBackend("fakescoped");
        try (Backends.Scope s = Backends.use(fake)) {
            assertEquals(fake, Backends.current());
            Backend[] seen = new Backend[1];
            Thread t = new Thread(() -> {
                try {
                    seen[0] = Backends.current();
                } catch (IllegalStateException e) {
                    seen[0] = null; // core alone has no backend installed: not the override, which is what matters
                }
            });
            t.start();
            t.join();
            assertTrue(seen[0] != fake);
        }
    }
}
