package io.grad4j.backend;

/**
 * A backend was asked for and cannot run here (no GPU, no driver, a driver too old, a backend
 * artifact missing from the classpath), or no backend at all can. The message gives the reason
 * each provider reported. An {@link IllegalStateException}, as before this type existed, so code
 * that caught that still does.
 */
public class BackendUnavailableException extends IllegalStateException {
    private static final long serialVersionUID = 1L;
    private final String backendName;

    public BackendUnavailableException(String backendName, String message) {
        super(message);
        this.backendName = backendName;
    }

    public BackendUnavailableException(String backendName, String message, Throwable cause) {
        super(message, cause);
        this.backendName = backendName;
    }

    /** The backend that was asked for ("cpu", "cuda"), or "auto" when none at all was available. */
    public String backendName() {
        return backendName;
    }
}
