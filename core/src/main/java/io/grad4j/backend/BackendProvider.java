package io.grad4j.backend;

/** Discovered with {@link java.util.ServiceLoader}; one per backend module. */
public interface BackendProvider {
    /** Name users select it by ("cpu", "cuda"). */
    String name();

    /** Higher wins when the selection is {@code auto}. */
    int priority();

    /** Whether {@link #create()} will succeed here. Must never throw or crash the JVM. */
    boolean isAvailable();

    /** Why {@link #isAvailable()} is false, in one line (e.g. "libcuda.so.1 not found"); "available" otherwise. */
    default String unavailableReason() {
        return isAvailable() ? "available" : "unavailable";
    }

    Backend create();
}
