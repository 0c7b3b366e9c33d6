package io.grad4j.checkpoint;

import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;
import io.grad4j.nn.Module;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Training checkpoints: a model's parameters under stable names (for example
 * {@code "0.weight"}, as PyTorch names a Sequential's layers) plus a few scalars, in a {@link Safetensors} file.
 *
 * <pre>{@code
 * Map<String, Tensor> params = Checkpoint.named(model);
 * Checkpoint.save(dir.resolve("last.safetensors"), params, new TrainingState(epoch, step, seed));
 * ...
 * Map<String, String> meta = Checkpoint.loadInto(dir.resolve("last.safetensors"), Checkpoint.named(model));
 * TrainingState resumed = TrainingState.fromMetadata(meta);
 * }</pre>
 *
 * Loading copies the values into the existing parameter tensors (so optimizers holding them keep
 * working) and refuses a file whose names, shapes or dtypes differ from the model's, listing every
 * difference before it changes anything.
 */
public final class Checkpoint {
    /**
     * Metadata key every checkpoint {@link #save} writes since Linear weights became [out, in]
     * (PyTorch's layout); its value is {@link #LAYOUT}. A grad4j checkpoint without it stored them
     * as [in, out] (see {@link #isLegacyLayout}).
     */
    public static final String LAYOUT_KEY = "grad4j.layout";
    /** {@link #LAYOUT_KEY}'s value: parameters in PyTorch's names and layouts. */
    public static final String LAYOUT = "pytorch";

    private static final System.Logger LOG = System.getLogger(Checkpoint.class.getName());

    private Checkpoint() {
    }

    /**
     * Whether a checkpoint with this metadata was written by grad4j before Linear weights became
     * [out, in]: it records an {@code epoch} (as a {@link TrainingState} and {@code grad4j train}
     * did) but no {@link #LAYOUT_KEY}. Files from PyTorch or other tools carry neither and are read
     * as they are.
     */
    public static boolean isLegacyLayout(Map<String, String> metadata) {
        return !metadata.containsKey(LAYOUT_KEY) && metadata.containsKey(TrainingState.EPOCH);
    }

    /**
     * A legacy checkpoint's tensors in today's layout: every rank-2 tensor transposed (until then
     * the only rank-2 parameters, and optimizer buffers, were Linear weights, stored [in, out]),
     * as views; the rest as they are.
     */
    public static Map<String, Tensor> fromLegacyLayout(Map<String, Tensor> tensors) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            out.put(e.getKey(), t != null && !t.isClosed() && t.rank() == 2 ? t.transpose() : t);
        }
        return out;
    }

    /** Closes the views {@link #fromLegacyLayout} made (the tensors it was given stay open). */
    public static void closeViews(Map<String, Tensor> converted, Map<String, Tensor> original) {
        for (Map.Entry<String, Tensor> e : converted.entrySet()) {
            if (e.getValue() != original.get(e.getKey()) && e.getValue() != null) {
                e.getValue().close();
            }
        }
    }

    private static Map<String, String> withLayout(Map<String, String> metadata) {
        if (metadata.containsKey(LAYOUT_KEY)) {
            return metadata;
        }
        Map<String, String> out = new LinkedHashMap<>(metadata);
        out.put(LAYOUT_KEY, LAYOUT);
        return out;
    }

    /**
     * Pairs names with parameters, in order. Fails if the lists differ in length, or a name is
     * null, blank, repeated or {@code __metadata__}.
     */
    public static Map<String, Tensor> named(List<String> names, List<Tensor> parameters) {
        Objects.requireNonNull(names, "names");
        Objects.requireNonNull(parameters, "parameters");
        if (names.size() != parameters.size()) {
            throw new IllegalArgumentException(names.size() + " names for " + parameters.size()
                    + " parameters: " + names);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            put(out, names.get(i), parameters.get(i));
        }
        return out;
    }

    /**
     * The module's state dict ({@link Module#stateDict()}: parameters and buffers under PyTorch's
     * dotted names, a Sequential's layer {@code i} as {@code "i."}, a Linear's {@code "weight"} and
     * {@code "bias"}), checked as {@link #named(List, List)} checks names. Names depend only on the
     * architecture, so a fresh model of the same shape finds its tensors in the file.
     */
    public static Map<String, Tensor> named(Module module) {
        Objects.requireNonNull(module, "module");
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : module.stateDict().entrySet()) {
            put(out, e.getKey(), e.getValue());
        }
        return out;
    }

    private static void put(Map<String, Tensor> out, String name, Tensor t) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("parameter name '" + name + "' is null or blank");
        }
        if (name.equals(Safetensors.METADATA_KEY)) {
            throw new IllegalArgumentException("'" + name + "' is reserved by safetensors and cannot name a parameter");
        }
        if (t == null) {
            throw new IllegalArgumentException("parameter '" + name + "' is null");
        }
        if (out.putIfAbsent(name, t) != null) {
            throw new IllegalArgumentException("parameter name '" + name + "' is used twice");
        }
    }

    /** Saves the parameters and the training state (as metadata), replacing {@code file} atomically. */
    public static void save(Path file, Map<String, Tensor> parameters, TrainingState state) throws IOException {
        save(file, parameters, state, Map.of());
    }

    /**
     * Saves the parameters, the training state and further string metadata (which must not reuse
     * the state's keys), replacing {@code file} atomically.
     */
    public static void save(Path file, Map<String, Tensor> parameters, TrainingState state,
                            Map<String, String> extraMetadata) throws IOException {
        Objects.requireNonNull(state, "state");
        Map<String, String> meta = new LinkedHashMap<>(state.toMetadata());
        for (Map.Entry<String, String> e : extraMetadata.entrySet()) {
            if (meta.containsKey(e.getKey())) {
                throw new IllegalArgumentException("metadata key '" + e.getKey()
                        + "' is the TrainingState's own; choose another name");
            }
            meta.put(e.getKey(), e.getValue());
        }
        Safetensors.save(file, parameters, withLayout(meta));
    }

    /** Saves the parameters with arbitrary string metadata, replacing {@code file} atomically. */
    public static void save(Path file, Map<String, Tensor> parameters, Map<String, String> metadata)
            throws IOException {
        Safetensors.save(file, parameters, withLayout(metadata));
    }

    /**
     * Copies the file's tensors into {@code target}'s tensors of the same names, inside
     * {@link Autograd#noGrad()}, and returns the file's metadata. The file must hold exactly the
     * target's names, each with the target tensor's shape and dtype; otherwise nothing is changed
     * and the IllegalArgumentException lists the missing and unexpected names and every shape or
     * dtype mismatch. Gradients and optimizer state are left as they are.
     */
    public static Map<String, String> loadInto(Path file, Map<String, Tensor> target) throws IOException {
        Objects.requireNonNull(target, "target");
        try (Safetensors.Loaded loaded = Safetensors.load(file)) {
            if (!isLegacyLayout(loaded.metadata())) {
                copyInto(file.toString(), loaded.tensors(), target);
                return loaded.metadata();
            }
            LOG.log(System.Logger.Level.INFO, file + " was written by grad4j with Linear weights as [in, out];"
                    + " loading its rank-2 tensors transposed into today's [out, in]");
            Map<String, Tensor> converted = fromLegacyLayout(loaded.tensors());
            try {
                copyInto(file.toString(), converted, target);
            } finally {
                closeViews(converted, loaded.tensors());
            }
            return loaded.metadata();
        }
    }

    /** Checks everything first, then assigns; {@code origin} names the source in messages. */
    static void copyInto(String origin, Map<String, Tensor> source, Map<String, Tensor> target) {
        List<String> missing = new ArrayList<>();
        for (String name : target.keySet()) {
            if (!source.containsKey(name)) {
                missing.add(name);
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String name : source.keySet()) {
            if (!target.containsKey(name)) {
                unexpected.add(name);
            }
        }
        List<String> problems = new ArrayList<>();
        if (!missing.isEmpty()) {
            problems.add("missing from the file: " + missing);
        }
        if (!unexpected.isEmpty()) {
            problems.add("in the file but not in the model: " + unexpected);
        }
        for (Map.Entry<String, Tensor> e : target.entrySet()) {
            Tensor dst = e.getValue();
            Tensor src = source.get(e.getKey());
            if (src == null) {
                continue;
            }
            if (dst == null) {
                problems.add("'" + e.getKey() + "': the model's tensor is null");
                continue;
            }
            boolean sameShape = Arrays.equals(src.shape(), dst.shape());
            boolean sameDtype = src.dtype() == dst.dtype();
            if (!sameShape || !sameDtype) {
                problems.add("'" + e.getKey() + "': file has " + describe(src) + ", model has " + describe(dst)
                        + (sameShape ? " (dtype differs)" : sameDtype ? " (shape differs)" : " (shape and dtype differ)"));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(origin + ": checkpoint does not match the model, nothing was loaded: "
                    + String.join("; ", problems));
        }
        try (NoGrad ignored = Autograd.noGrad()) {
            for (Map.Entry<String, Tensor> e : target.entrySet()) {
                Tensor dst = e.getValue();
                Tensor src = source.get(e.getKey());
                if (src.backend() != dst.backend()) {
                    try (Tensor moved = src.to(dst.backend())) {
                        dst.assign(moved);
                    }
                } else {
                    dst.assign(src);
                }
            }
        }
    }

    private static String describe(Tensor t) {
        return Safetensors.dtypeName(t.dtype()) + " " + Arrays.toString(t.shape());
    }
}
