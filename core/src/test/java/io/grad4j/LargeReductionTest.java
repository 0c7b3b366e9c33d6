package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.backend.Storage;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sums over more than 2^31 elements (a GPU tensor can hold them): every reduction core asks of
 * the backend must view exactly the storage it reads. sum() used to flatten such a tensor into an
 * axis of Integer.MAX_VALUE (a silently partial sum), and broadcasting's gradient its leading axes
 * likewise. A backend that only records the calls (no memory) stands in for the GPU.
 */
class LargeReductionTest {
    /** {storage length, outer, axis, inner} of every reduce call. */
    private final List<long[]> reductions = new ArrayList<>();

    private Backend recordingBackend() {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> "recording";
                    case "allocate" -> storage((DType) args[0], (Long) args[1]);
                    case "fill" -> null;
                    case "reduce" -> {
                        reductions.add(new long[] {((Storage) args[1]).length(), (Long) args[3], (Integer) args[4], (Long) args[5]});
                        yield null;
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    private static Storage storage(DType dtype, long length) {
        return new Storage() {
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
            }
        };
    }

    private void assertEveryReductionViewsItsWholeInput() {
        assertTrue(!reductions.isEmpty(), "no reduction was asked for");
        for (long[] r : reductions) {
            assertEquals(r[0], r[1] * r[2] * r[3], "reduce viewed [outer=" + r[1] + ", axis=" + r[2] + ", inner=" + r[3]
                    + "] of a storage of " + r[0] + " elements");
        }
    }

    @Test
    void sumOfMoreThan2To31ElementsReducesAllOfThem() {
        try (Backends.Scope ignored = Backends.use(recordingBackend())) {
            Tensor x = Tensor.zeros(DType.FLOAT32, 1 << 16, 1 << 16); // 2^32 elements, no memory
            Tensor s = x.sum();
            assertArrayEquals(new int[0], s.shape());
            assertEveryReductionViewsItsWholeInput();
            assertEquals(1L << 32, reductions.getFirst()[0]);
        }
    }

    @Test
    void broadcastGradientsOverMoreThan2To31LeadingElementsReduceAllOfThem() {
        try (Backends.Scope ignored = Backends.use(recordingBackend())) {
            Tensor g = Tensor.zeros(DType.FLOAT32, 1 << 16, 1 << 16, 2);
            Tensor summed = ReductionOps.sumTo(g, new int[] {2});
            assertArrayEquals(new int[] {2}, summed.shape());
            assertEveryReductionViewsItsWholeInput();
        }
    }
}
