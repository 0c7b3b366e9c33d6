package io.grad4j.examples;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The per-epoch rows of {@code metrics.csv} when a run resumes. The file is appended after every
 * epoch but the checkpoint only after the append, so it can run ahead of the checkpoint: a kill
 * after the row was written, or a resume from an older copy of the checkpoint folder. The epochs
 * after the checkpoint are trained again, and their old rows would then appear twice.
 */
final class MetricsCsv {
    /** Columns of a complete row: epoch, train_loss, train_accuracy, test_accuracy, learning_rate, seconds. */
    static final int COLUMNS = 6;

    private MetricsCsv() {
    }

    /**
     * Rewrites {@code csv} (atomically: a temporary file renamed over it) keeping the header and
     * the complete rows of epochs 1..{@code lastEpoch}; rows of later epochs and a partial last
     * line (a kill in the middle of a write) are dropped. Leaves the file alone when nothing goes.
     */
    static void keepEpochsUpTo(Path csv, int lastEpoch) throws IOException {
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        List<String> kept = new ArrayList<>(lines.size());
        for (String line : lines) {
            if (line.startsWith("epoch,") || epochOf(line) >= 1 && epochOf(line) <= lastEpoch) {
                kept.add(line);
            }
        }
        if (kept.size() == lines.size()) {
            return;
        }
        Path tmp = Files.createTempFile(csv.toAbsolutePath().getParent(), "." + csv.getFileName() + ".", ".tmp");
        try {
            Files.write(tmp, kept, StandardCharsets.UTF_8);
            // createTempFile makes the file owner-only (0600); the rewritten metrics keep the old file's permissions
            try {
                Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(csv));
            } catch (UnsupportedOperationException notPosix) {
                // a file system without POSIX permissions: nothing to keep
            }
            Files.move(tmp, csv, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The epoch of a complete row, or -1 for anything else (a partial line, garbage). */
    private static int epochOf(String line) {
        String[] fields = line.split(",", -1);
        if (fields.length != COLUMNS) {
            return -1;
        }
        try {
            return Integer.parseInt(fields[0].trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
