package io.grad4j.checkpoint;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;

/**
 * Replaces a file so that readers (and a crash) see either the old contents or the complete new
 * ones, never a mixture: write a temporary file in the same directory, force it to disk, rename
 * it over the target atomically, then force the directory entry where the platform allows.
 * On any failure the temporary file is deleted and the previous file is left as it was.
 */
final class AtomicFiles {
    private static final SecureRandom RANDOM = new SecureRandom();

    private AtomicFiles() {
    }

    /** Writes the new contents to the channel it is given (positioned at 0, empty). */
    @FunctionalInterface
    interface Contents {
        void writeTo(FileChannel channel) throws IOException;
    }

    static void replace(Path target, Contents contents) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        if (dir == null) {
            throw new IOException("cannot write " + target + ": it has no parent directory");
        }
        Path fileName = absolute.getFileName();
        if (Files.exists(absolute) && !Files.isRegularFile(absolute)) {
            // a rename over a directory fails after the whole file was written, with "Is a directory"
            // or the bare path (DirectoryNotEmptyException); over a FIFO it would replace the FIFO
            throw new java.nio.file.FileSystemException(target.toString(), null, "cannot write it: it is "
                    + (Files.isDirectory(absolute) ? "a directory" : "not a regular file (a FIFO, socket or device)")
                    + "; nothing was written");
        }
        // a dot-prefixed name in the same directory, so the rename never crosses a file system;
        // opened with CREATE_NEW (not createTempFile) so the file gets the usual umask permissions
        Path tmp = null;
        FileChannel channel = null;
        while (channel == null) {
            tmp = dir.resolve("." + fileName + "." + Long.toUnsignedString(RANDOM.nextLong(), 36) + ".tmp");
            try {
                channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException e) {
                // another writer's temporary file; pick another name
            } catch (NoSuchFileException e) {
                // name the file the caller asked for, not our temporary one
                throw new NoSuchFileException(target.toString(), null, "cannot write it: the folder " + dir + " does not exist");
            }
        }
        boolean moved = false;
        try {
            try (FileChannel ch = channel) {
                contents.writeTo(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot replace " + target + " atomically (the file system does not support "
                        + "an atomic rename in " + dir + "); the previous file is unchanged", e);
            }
            moved = true;
            forceDirectory(dir);
        } catch (Throwable t) {
            if (!moved) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException cleanup) {
                    t.addSuppressed(cleanup);
                }
            }
            throw t;
        }
    }

    /**
     * Makes the rename durable. Works on Linux and macOS; some platforms (Windows) cannot open a
     * directory as a channel, and there the rename is as durable as the file system makes it.
     */
    private static void forceDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // best effort, see above
        }
    }
}
