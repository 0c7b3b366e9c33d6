package io.grad4j.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint whose metadata is missing an entry or holds a value that cannot be right (an epoch
 * of -3, a step count that is not a number): a damaged file, or one not written by the code now
 * reading it. The message names the file, the key and the value.
 */
public final class CheckpointMetadataException extends IOException {
    private final transient Path file;

    /** {@code file} may be null when the metadata came from elsewhere; the message then is the problem alone. */
    public CheckpointMetadataException(Path file, String problem) {
        super(file == null ? problem : file + ": " + problem);
        this.file = file;
    }

    /** The checkpoint file whose metadata was read. */
    public Path file() {
        return file;
    }
}
