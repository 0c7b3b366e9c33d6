package io.grad4j.checkpoint;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where training stood when a checkpoint was written: the epoch, the optimizer step and the seed
 * (of the data order, dropout and so on). Stored as decimal strings under the metadata keys
 * {@value #EPOCH}, {@value #STEP} and {@value #SEED}, since safetensors metadata holds only strings.
 */
public record TrainingState(long epoch, long step, long seed) {
    public static final String EPOCH = "epoch";
    public static final String STEP = "step";
    public static final String SEED = "seed";

    /** The three entries as safetensors metadata, in the order epoch, step, seed. */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(EPOCH, Long.toString(epoch));
        m.put(STEP, Long.toString(step));
        m.put(SEED, Long.toString(seed));
        return m;
    }

    /** Epochs and steps count from 0; a negative one (a damaged file) would resume before the start. */
    public TrainingState {
        if (epoch < 0 || step < 0) {
            throw new IllegalArgumentException("TrainingState: epoch and step must be >= 0, got epoch=" + epoch
                    + " step=" + step);
        }
    }

    /**
     * Reads the state back from metadata, or throws an IllegalArgumentException naming the key
     * that is missing, not a whole number or negative (and showing the metadata it was given).
     */
    public static TrainingState fromMetadata(Map<String, String> metadata) {
        try {
            return fromMetadata(null, metadata);
        } catch (CheckpointMetadataException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /**
     * As {@link #fromMetadata(Map)}, for the metadata of {@code file}: a missing or impossible
     * entry is a {@link CheckpointMetadataException} (an IOException) naming the file.
     */
    public static TrainingState fromMetadata(Path file, Map<String, String> metadata) throws CheckpointMetadataException {
        return new TrainingState(wholeNumber(file, metadata, EPOCH, 0, Long.MAX_VALUE),
                wholeNumber(file, metadata, STEP, 0, Long.MAX_VALUE),
                wholeNumber(file, metadata, SEED, Long.MIN_VALUE, Long.MAX_VALUE));
    }

    /**
     * The metadata entry {@code key} of {@code file} as a whole number in [min, max], or a
     * {@link CheckpointMetadataException} naming the file, the key and what it holds instead
     * (never a bare NumberFormatException or NullPointerException).
     */
    public static long wholeNumber(Path file, Map<String, String> metadata, String key, long min, long max)
            throws CheckpointMetadataException {
        String value = metadata.get(key);
        if (value == null) {
            throw new CheckpointMetadataException(file, "checkpoint metadata has no '" + key + "' (it holds " + metadata
                    + "); was it saved with a TrainingState?");
        }
        long n;
        try {
            n = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new CheckpointMetadataException(file, "checkpoint metadata '" + key + "' is \"" + value
                    + "\", not a whole number");
        }
        if (n < min || n > max) {
            throw new CheckpointMetadataException(file, "checkpoint metadata '" + key + "' is " + n + ", outside ["
                    + min + ", " + max + "]; the file is damaged or was not written for this run");
        }
        return n;
    }
}
