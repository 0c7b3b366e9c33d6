package io.grad4j.cuda;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * GPU time per kernel, measured with a pair of stream events around every launch while profiling
 * is on ({@link CudaBackend#profileKernels}): which kernels a training step spends its device time
 * in, without an external profiler. Events are recorded on the backend's stream, so the times are
 * the device's own; reading a report waits for the last recorded event. Recording costs host time
 * (two event records per launch): profile to find where the time goes, not to time the step.
 *
 * @param <E> the device's event type (CUevent on a GPU; a fake in tests)
 */
final class KernelProfile<E> {
    /** The device operations the profile needs. */
    interface Events<E> {
        E create();

        void record(E event);

        /** Waits until the event has happened on the device. */
        void synchronize(E event);

        float elapsedMillis(E start, E end);

        void destroy(E event);
    }

    private record Span<E>(String kernel, E start, E end) {
    }

    /** One kernel's totals: launches, device milliseconds, and its share of all profiled time. */
    record Line(String kernel, long launches, double millis, double share) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-" + NAME_WIDTH + "s %7d launches %10.3f ms %6.1f%%  %8.1f us each", kernel, launches,
                    millis, 100 * share, 1000 * millis / Math.max(1, launches));
        }
    }

    static final int SETTLE_EVERY = 2048;

    private final Events<E> events;
    private final Deque<E> spare = new ArrayDeque<>();
    private final List<Span<E>> pending = new ArrayList<>();
    private final Map<String, long[]> launches = new LinkedHashMap<>();
    private final Map<String, double[]> millis = new LinkedHashMap<>();

    KernelProfile(Events<E> events) {
        this.events = events;
    }

    /** Records an event before and after {@code launch} (which queues the kernel) under {@code kernel}. */
    void around(String kernel, Runnable launch) {
        if (pending.size() >= SETTLE_EVERY) {
            settle(); // bounds the events in flight over a long run (one wait per SETTLE_EVERY launches)
        }
        E start = take();
        events.record(start);
        try {
            launch.run();
        } catch (RuntimeException | Error e) {
            spare.push(start); // no kernel to time; the launch's own error is what the caller needs
            throw e;
        }
        E end = take();
        events.record(end);
        pending.add(new Span<>(kernel, start, end));
    }

    /** Waits for what is in flight and destroys every event the profile made. */
    void close() {
        try {
            clear();
        } finally {
            for (Span<E> s : pending) { // only after a failed wait
                spare.push(s.start());
                spare.push(s.end());
            }
            pending.clear();
            while (!spare.isEmpty()) {
                events.destroy(spare.pop());
            }
        }
    }

    /** Kernels by device time, most first, over everything profiled since the last {@link #clear}. */
    List<Line> report() {
        settle();
        double total = 0;
        for (double[] m : millis.values()) {
            total += m[0];
        }
        List<Line> lines = new ArrayList<>();
        for (Map.Entry<String, double[]> e : millis.entrySet()) {
            double ms = e.getValue()[0];
            lines.add(new Line(e.getKey(), launches.get(e.getKey())[0], ms, total > 0 ? ms / total : 0));
        }
        lines.sort(Comparator.comparingDouble(Line::millis).reversed());
        return lines;
    }

    /** Forgets the totals (events still in flight are waited for and dropped). */
    void clear() {
        settle();
        launches.clear();
        millis.clear();
    }

    /** Waits for the recorded spans and adds them to the totals; their events are reused. */
    private void settle() {
        if (pending.isEmpty()) {
            return;
        }
        events.synchronize(pending.getLast().end());
        for (Span<E> s : pending) {
            float ms = events.elapsedMillis(s.start(), s.end());
            launches.computeIfAbsent(s.kernel(), k -> new long[1])[0]++;
            millis.computeIfAbsent(s.kernel(), k -> new double[1])[0] += ms;
            spare.push(s.start());
            spare.push(s.end());
        }
        pending.clear();
    }

    private E take() {
        E e = spare.poll();
        return e != null ? e : events.create();
    }

    /** Wide enough for the longest kernel name, cross_entropy_small_mean_backward_f32 (37). */
    static final int NAME_WIDTH = 38;

    /** The report as a table, with a total line. */
    static String format(List<Line> lines) {
        StringBuilder sb = new StringBuilder();
        long count = 0;
        double total = 0;
        for (Line l : lines) {
            sb.append("  ").append(l).append('\n');
            count += l.launches();
            total += l.millis();
        }
        sb.append(String.format(Locale.ROOT, "  %-" + NAME_WIDTH + "s %7d launches %10.3f ms", "total", count, total));
        return sb.toString();
    }
}
