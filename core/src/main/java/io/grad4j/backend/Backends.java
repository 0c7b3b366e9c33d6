package io.grad4j.backend;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds backends with {@link ServiceLoader} and chooses the one tensors are created on.
 *
 * <p>Selection, done once per JVM on first use: the system property {@code grad4j.backend}, else
 * the environment variable {@code GRAD4J_BACKEND}, else {@code auto}. {@code auto} takes the
 * available provider of highest priority (cuda over cpu) and logs one line naming it and, when a
 * higher-priority one was skipped, why. A backend named explicitly that is not available fails with
 * a {@link BackendUnavailableException} giving the provider's reason; there is no silent switch.
 *
 * <p>{@link #use(Backend)} overrides the choice for the current thread inside a
 * try-with-resources block (tests and programs that mix devices use it).
 */
public final class Backends {
    public static final String PROPERTY = "grad4j.backend";
    public static final String ENV = "GRAD4J_BACKEND";

    private static final System.Logger LOG = System.getLogger(Backends.class.getName());
    private static final Map<String, Backend> CREATED = new ConcurrentHashMap<>();
    private static final ThreadLocal<Backend> OVERRIDE = new ThreadLocal<>();
    private static volatile Backend chosen;

    private Backends() {
    }

    /** The backend new tensors are created on. */
    public static Backend current() {
        Backend local = OVERRIDE.get();
        if (local != null) {
            return local;
        }
        Backend b = chosen;
        if (b == null) {
            synchronized (Backends.class) {
                b = chosen;
                if (b == null) {
                    b = choose(requestedName(), providers());
                    chosen = b;
                }
            }
        }
        return b;
    }

    /** The backend of that name ("cpu", "cuda"), created once; fails with the reason if unavailable. */
    public static Backend get(String name) {
        return get(name, null);
    }

    private static Backend get(String name, List<BackendProvider> installed) {
        Objects.requireNonNull(name, "Backends.get: the backend name is null (use \"cpu\", \"cuda\" or Backends.current())");
        String key = name.trim().toLowerCase(Locale.ROOT);
        Backend existing = CREATED.get(key);
        if (existing != null) {
            return existing;
        }
        synchronized (Backends.class) {
            existing = CREATED.get(key);
            if (existing != null) {
                return existing;
            }
            Backend created = create(key, installed != null ? installed : providers());
            CREATED.put(key, created);
            return created;
        }
    }

    /** Creates the named backend from the given providers, or says precisely why it cannot. */
    static Backend create(String name, List<BackendProvider> installed) {
        BackendProvider provider = installed.stream()
                .filter(p -> p.name().equalsIgnoreCase(name))
                .findFirst()
                .orElse(null);
        if (provider == null) {
            String message = "backend '" + name + "' is not installed; installed backends: " + names(installed);
            if (KNOWN_BACKENDS.contains(name)) {
                // a real backend whose artifact is missing: unavailable here, not a typo
                throw new BackendUnavailableException(name, message + " (add the grad4j-" + name
                        + "-backend artifact to the classpath)");
            }
            throw new IllegalArgumentException("unknown backend '" + name + "'; installed backends: " + names(installed)
                    + " (grad4j's backends: " + String.join(", ", KNOWN_BACKENDS) + ")");
        }
        if (!provider.isAvailable()) {
            throw new BackendUnavailableException(provider.name(), "backend '" + provider.name() + "' is not available: "
                    + provider.unavailableReason());
        }
        try {
            return provider.create();
        } catch (BackendUnavailableException e) {
            throw e;
        } catch (RuntimeException e) {
            // the probe passed but start-up failed (a fatbin the driver refuses, a library that
            // would not load): still "this backend cannot run here", with the cause kept
            throw new BackendUnavailableException(provider.name(), "backend '" + provider.name()
                    + "' could not start: " + e.getMessage(), e);
        }
    }

    /** The backends grad4j publishes, each in its artifact grad4j-NAME-backend. */
    private static final List<String> KNOWN_BACKENDS = List.of("cpu", "cuda");

    /** Names of the providers that are available here, highest priority first. */
    public static List<String> available() {
        List<String> names = new ArrayList<>();
        for (BackendProvider p : providers()) {
            if (p.isAvailable()) {
                names.add(p.name());
            }
        }
        return names;
    }

    /** Every installed provider, available or not, highest priority first (for diagnostics). */
    public static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            list.add(p);
        }
        list.sort(Comparator.comparingInt(BackendProvider::priority).reversed());
        return list;
    }

    /**
     * Makes {@code backend} the current one for this thread until the returned scope is closed;
     * scopes nest.
     */
    public static Scope use(Backend backend) {
        Backend previous = OVERRIDE.get();
        OVERRIDE.set(backend);
        return () -> OVERRIDE.set(previous);
    }

    /** A thread-local backend override; closing it restores the previous one. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /** What the configuration asks for: property, then environment, then "auto". */
    static String requestedName() {
        String value = System.getProperty(PROPERTY);
        if (value == null || value.isBlank()) {
            value = System.getenv(ENV);
        }
        if (value == null || value.isBlank()) {
            value = "auto";
        }
        return value.trim().toLowerCase(Locale.ROOT);
    }

    static Backend choose(String requested, List<BackendProvider> all) {
        if (!requested.equals("auto")) {
            Backend b = get(requested, all);
            LOG.log(System.Logger.Level.INFO, "grad4j backend: " + b.name() + " (requested explicitly) - " + b.description());
            return b;
        }
        if (all.isEmpty()) {
            throw new BackendUnavailableException("auto", "no grad4j backend installed: add grad4j-cpu-backend "
                    + "(or grad4j-cuda-backend) to the classpath");
        }
        StringBuilder skipped = new StringBuilder();
        for (BackendProvider p : all) {
            if (p.isAvailable()) {
                Backend b = get(p.name(), all);
                LOG.log(System.Logger.Level.INFO, "grad4j backend: " + b.name() + " (auto" + (skipped.isEmpty() ? "" : "; fell back: " + skipped)
                        + ") - " + b.description());
                return b;
            }
            if (!skipped.isEmpty()) {
                skipped.append("; ");
            }
            skipped.append(p.name()).append(" unavailable: ").append(p.unavailableReason());
        }
        throw new BackendUnavailableException("auto", "no grad4j backend is available: " + skipped);
    }

    private static String names(List<BackendProvider> list) {
        List<String> n = new ArrayList<>();
        for (BackendProvider p : list) {
            n.add(p.name());
        }
        return n.toString();
    }
}
