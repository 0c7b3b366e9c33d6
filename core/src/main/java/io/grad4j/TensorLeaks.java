package io.grad4j;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A debug aid for device memory: with {@code -Dgrad4j.debug.leaks=true}, every tensor remembers
 * where it was created; {@link #live()} lists the tensors not yet closed by creation site, and a
 * tensor the garbage collector frees without close() is logged with its creation site (on a GPU
 * that memory was held far longer than needed). Off by default: it costs a stack trace per tensor.
 */
public final class TensorLeaks {
    /** The switch, read once at class initialisation. */
    public static final boolean ENABLED = Boolean.getBoolean("grad4j.debug.leaks");
    private static final System.Logger LOG = System.getLogger(TensorLeaks.class.getName());
    private static final Map<Long, Site> LIVE = new ConcurrentHashMap<>();
    private static final AtomicLong IDS = new AtomicLong();

    private TensorLeaks() {
    }

    /** Where a tensor was made: the first stack frame outside grad4j's own internals. */
    record Site(String where, String shape) {
    }

    /** Registers a new tensor; returns its id (0 when disabled). */
    static long created(int[] shape) {
        if (!ENABLED) {
            return 0;
        }
        long id = IDS.incrementAndGet();
        LIVE.put(id, new Site(callerOutsideGrad4j(), java.util.Arrays.toString(shape)));
        return id;
    }

    static void closed(long id) {
        if (id != 0) {
            LIVE.remove(id);
        }
    }

    /** Called by the Cleaner when a tensor became unreachable while still open. */
    static void collectedWithoutClose(long id) {
        if (id == 0) {
            return;
        }
        Site site = LIVE.remove(id);
        if (site != null) {
            LOG.log(System.Logger.Level.WARNING, "grad4j: a tensor of shape " + site.shape() + " created at " + site.where()
                    + " was never closed; the garbage collector freed it (close it, or create it inside a TensorScope)");
        }
    }

    /** Unclosed tensors now, counted by creation site, most first. Empty when disabled. */
    public static Map<String, Integer> live() {
        Map<String, Integer> counts = new java.util.HashMap<>();
        for (Site s : LIVE.values()) {
            counts.merge(s.where(), 1, Integer::sum);
        }
        List<Map.Entry<String, Integer>> sorted = new ArrayList<>(counts.entrySet());
        sorted.sort(Map.Entry.<String, Integer>comparingByValue(Comparator.reverseOrder()));
        Map<String, Integer> out = new LinkedHashMap<>();
        for (Map.Entry<String, Integer> e : sorted) {
            out.put(e.getKey(), e.getValue());
        }
        return out;
    }

    /** Number of tensors created and not yet closed or collected (0 when disabled). */
    public static int liveCount() {
        return LIVE.size();
    }

    private static String callerOutsideGrad4j() {
        StackTraceElement[] stack = new Throwable().getStackTrace();
        for (StackTraceElement e : stack) {
            String c = e.getClassName();
            boolean internal = c.startsWith("io.grad4j.") && !c.startsWith("io.grad4j.examples.")
                    && !c.startsWith("io.grad4j.bench.") && !c.contains("Test");
            if (!internal) {
                return e.toString();
            }
        }
        return stack.length > 0 ? stack[stack.length - 1].toString() : "unknown";
    }
}
