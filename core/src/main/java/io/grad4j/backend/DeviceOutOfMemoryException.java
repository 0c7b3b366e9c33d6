package io.grad4j.backend;

/**
 * A backend could not allocate a tensor's memory: the GPU's memory (even after the cuda
 * allocator emptied its cache) or, on the cpu backend, the Java heap. The same type on every
 * backend, so a program can catch it, free tensors or shrink its batch and go on, without naming a
 * backend; the message says how much was asked for and what was free.
 */
public class DeviceOutOfMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final long requestedBytes;

    public DeviceOutOfMemoryException(String message, long requestedBytes) {
        super(message);
        this.requestedBytes = requestedBytes;
    }

    public DeviceOutOfMemoryException(String message, long requestedBytes, Throwable cause) {
        super(message, cause);
        this.requestedBytes = requestedBytes;
    }

    /** The size of the allocation that failed, in bytes. */
    public long requestedBytes() {
        return requestedBytes;
    }
}
