package io.grad4j.checkpoint;

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

    /**
     * Reads the state back from metadata, or throws an IllegalArgumentException naming the key
     * that is missing or not a whole number (and showing the metadata it was given).
     */
    public static TrainingState fromMetadata(Map<String, String> metadata) {
        return new TrainingState(number(metadata, EPOCH), number(metadata, STEP), number(metadata, SEED));
    }

    private static long number(Map<String, String> metadata, String key) {
        String value = metadata.get(key);
        if (value == null) {
            throw new IllegalArgumentException("checkpoint metadata has no '" + key + "' (it holds " + metadata
                    + "); was it saved with a TrainingState?");
        }
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("checkpoint metadata '" + key + "' is \"" + value
                    + "\", not a whole number", e);
        }
    }
}
