package io.grad4j.examples;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One training at a time per --checkpoint-dir: a run holds an OS file lock on
 * {@value #FILE} in the folder until it ends. Two runs writing one folder would otherwise rename
 * each other's files in and out of place, and a --resume would mix their epochs. The operating
 * system releases the lock when the process ends however it ends (a SIGKILL included), so a
 * crashed run never leaves the folder locked; the empty file itself stays.
 */
final class CheckpointLock implements AutoCloseable {
    static final String FILE = ".grad4j.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private CheckpointLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Locks {@code folder} (creating it), or throws naming the folder when another run holds it. */
    static CheckpointLock acquire(Path folder) throws IOException {
        Files.createDirectories(folder);
        Path file = folder.resolve(FILE);
        // opening a FIFO for writing blocks until a reader comes: refuse anything but a file
        if (Files.exists(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && !Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalStateException("--checkpoint-dir " + folder + " holds " + file.getFileName()
                    + ", grad4j's lock file, but it is not a regular file (a directory, a FIFO or a link); remove it");
        }
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException sameJvm) {
            lock = null; // another run in this JVM holds it
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            throw new IllegalStateException("--checkpoint-dir " + folder + " is in use by another grad4j train (it holds "
                    + file + "); wait for it to finish, or choose another folder");
        }
        return new CheckpointLock(channel, lock);
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
