package io.grad4j.data;

import java.io.IOException;

/**
 * An IDX file (MNIST's format) that is damaged or not IDX: a wrong magic number, a header whose
 * counts are implausible or promise more bytes than the file holds, labels and images that do not
 * match, a label outside 0-9. The message names the file and the values involved.
 */
public final class IdxFormatException extends IOException {
    private final String file;

    IdxFormatException(String file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    IdxFormatException(String file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file (or resource) that was being read, as named in the message. */
    public String file() {
        return file;
    }
}
