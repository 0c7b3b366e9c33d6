package io.grad4j.checkpoint;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The check every reader of checkpoint and data files makes before it opens one: the path must be
 * an existing regular file. Opening a FIFO for reading blocks until someone writes to it (a
 * {@code --resume} that hangs for ever), a directory opens on Linux and then fails with a bare
 * "Is a directory" that names no path, and a device can stream without end. Each refusal is an
 * IOException whose message names the path and what it is instead.
 */
public final class RegularFile {
    private RegularFile() {
    }

    /**
     * Returns normally when {@code file} is a regular file (symbolic links followed) that can be
     * read; otherwise throws {@link NoSuchFileException}, {@link AccessDeniedException} or a
     * {@link FileSystemException} whose message is {@code "<path>: <what it is>, not a regular file
     * (<what>)"}. {@code what} says what the file was wanted for ("a safetensors file").
     */
    public static void require(Path file, String what) throws IOException {
        if (Files.isRegularFile(file)) {
            if (!Files.isReadable(file)) {
                throw new AccessDeniedException(file.toString(), null, "permission denied: cannot read " + what);
            }
            return;
        }
        if (!Files.exists(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such file (expected " + what + ")");
        }
        String kind = Files.isDirectory(file) ? "a directory" : "not a regular file (a FIFO, socket or device)";
        throw new FileSystemException(file.toString(), null, "is " + kind + "; expected " + what);
    }
}
