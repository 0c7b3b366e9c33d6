package io.grad4j.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file that is not a valid safetensors file, or holds something grad4j cannot load (an
 * unsupported dtype). The message names the file, the tensor and the values involved. An
 * IOException (since issue 23; it was an IllegalArgumentException): a damaged file is a problem
 * with the file, and the methods that read one declare IOException.
 */
public final class SafetensorsFormatException extends IOException {
    private final transient Path file;

    SafetensorsFormatException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    SafetensorsFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file that was being read. */
    public Path file() {
        return file;
    }
}
