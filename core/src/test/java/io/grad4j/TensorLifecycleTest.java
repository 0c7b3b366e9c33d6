package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.backend.Storage;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** close() releases backend memory once, views share it, and the Cleaner catches forgotten tensors. */
class TensorLifecycleTest {
    private final AtomicInteger allocated = new AtomicInteger();
    private final AtomicInteger released = new AtomicInteger();

    private Backend countingBackend() {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> "counting";
                    case "allocate" -> {
                        allocated.incrementAndGet();
                        DType dtype = (DType) args[0];
                        long length = (Long) args[1];
                        yield new Storage() {
                            private boolean done;

                            @Override
                            public DType dtype() {
                                return dtype;
                            }

                            @Override
                            public long length() {
                                return length;
                            }

                            @Override
                            public void release() {
                                if (done) {
                                    throw new AssertionError("released twice");
                                }
                                done = true;
                                released.incrementAndGet();
                            }
                        };
                    }
                    case "fill" -> null;
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void closeReleasesOnceAndViewsShareTheMemory() {
        try (Backends.Scope ignored = Backends.use(countingBackend())) {
            Tensor t = Tensor.zeros(DType.FLOAT32, 2, 3);
            Tensor view = t.reshape(3, 2);
            Tensor detached = t.detach();
            t.close();
            assertEquals(0, released.get(), "views still use the memory");
            view.close();
            detached.close();
            detached.close();
            assertEquals(1, released.get());
        }
    }

    @Test
    void cleanerReleasesTensorsNobodyClosed() throws InterruptedException {
        try (Backends.Scope ignored = Backends.use(countingBackend())) {
            for (int i = 0; i < 100; i++) {
                Tensor.zeros(DType.FLOAT64, 4);
            }
        }
        assertEquals(100, allocated.get());
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (released.get() < 100 && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertTrue(released.get() == 100, "the Cleaner released " + released.get() + " of 100 unreachable tensors");
    }
}
