package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.Backends;
import io.grad4j.backend.Storage;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorScopeTest {
    private static Backend inertBackend() {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> "inert";
                    case "allocate" -> new Storage() {
                        @Override
                        public DType dtype() {
                            return (DType) args[0];
                        }

                        @Override
                        public long length() {
                            return (Long) args[1];
                        }

                        @Override
                        public void release() {
                        }
                    };
                    case "fill" -> null;
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void closesWhatWasMadeInsideExceptKeptAndPersistentTensors() {
        try (Backends.Scope ignored = Backends.use(inertBackend())) {
            Tensor outside = Tensor.zeros(DType.FLOAT32, 2);
            Tensor inner;
            Tensor kept;
            Tensor state;
            Tensor survivesInner;
            try (TensorScope outer = TensorScope.open()) {
                try (TensorScope step = TensorScope.open()) {
                    inner = Tensor.zeros(DType.FLOAT32, 3);
                    kept = TensorScope.keep(Tensor.zeros(DType.FLOAT32, 3));
                    state = Tensor.zeros(DType.FLOAT32, 3).persistent();
                }
                assertTrue(inner.isClosed());
                assertFalse(kept.isClosed(), "kept tensors move to the enclosing scope");
                survivesInner = kept;
            }
            assertTrue(survivesInner.isClosed(), "the enclosing scope closes what was kept into it");
            assertFalse(state.isClosed());
            assertFalse(outside.isClosed());
        }
    }

    @Test
    void scopesCloseInnermostFirst() {
        TensorScope a = TensorScope.open();
        TensorScope b = TensorScope.open();
        assertThrows(IllegalStateException.class, a::close);
        b.close();
        a.close();
    }
}
