package io.grad4j.cuda;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-kernel profile's bookkeeping, on a fake device whose events carry their own timestamps. */
class KernelProfileTest {
    /** Events are timestamps on a fake device clock that each launch advances by its kernel's cost. */
    private static final class FakeDevice implements KernelProfile.Events<double[]> {
        double now;
        int created;
        int synchronizations;
        final List<double[]> live = new ArrayList<>();

        @Override
        public double[] create() {
            created++;
            return new double[1];
        }

        @Override
        public void record(double[] event) {
            event[0] = now;
            live.add(event);
        }

        @Override
        public void synchronize(double[] event) {
            synchronizations++;
        }

        @Override
        public float elapsedMillis(double[] start, double[] end) {
            return (float) (end[0] - start[0]);
        }

        void kernel(double millis) {
            now += millis;
        }

        int destroyed;

        @Override
        public void destroy(double[] event) {
            destroyed++;
        }
    }

    @Test
    void timesAddUpPerKernelAndAreSortedByTotal() {
        FakeDevice device = new FakeDevice();
        KernelProfile<double[]> profile = new KernelProfile<>(device);
        for (int step = 0; step < 3; step++) {
            profile.around("gemm128_f32", () -> device.kernel(2.0));
            device.kernel(5.0); // time between launches (host gaps) is not charged to any kernel
            profile.around("unary_f32", () -> device.kernel(0.25));
            profile.around("gemm128_f32", () -> device.kernel(1.0));
        }
        List<KernelProfile.Line> lines = profile.report();
        assertEquals(2, lines.size());
        assertEquals("gemm128_f32", lines.get(0).kernel());
        assertEquals(6, lines.get(0).launches());
        assertEquals(9.0, lines.get(0).millis(), 1e-9);
        assertEquals(9.0 / 9.75, lines.get(0).share(), 1e-9);
        assertEquals("unary_f32", lines.get(1).kernel());
        assertEquals(0.75, lines.get(1).millis(), 1e-9);
        assertEquals(1, device.synchronizations, "one wait, for the last event");
        String table = KernelProfile.format(lines);
        assertTrue(table.contains("gemm128_f32") && table.contains("92.3%") && table.contains("1500.0 us each"), table);
        assertTrue(table.contains("total") && table.contains("9.750 ms"), table);
    }

    /** Every kernel name of the .cu fits the name column, so the counts line up under each other. */
    @Test
    void theTableKeepsItsColumnsForEveryKernelName() {
        List<KernelProfile.Line> lines = new java.util.ArrayList<>();
        for (String kernel : CudaBackend.KERNELS) {
            lines.add(new KernelProfile.Line(kernel, 1, 1.0, 0.01));
        }
        String[] rows = KernelProfile.format(lines).split("\n");
        int column = rows[0].indexOf(" launches");
        for (String row : rows) {
            assertEquals(column, row.indexOf(" launches"), "misaligned row:\n" + row + "\nagainst\n" + rows[0]);
        }
    }

    @Test
    void eventsAreReusedAndAClearedProfileStartsOver() {
        FakeDevice device = new FakeDevice();
        KernelProfile<double[]> profile = new KernelProfile<>(device);
        profile.around("fill_f32", () -> device.kernel(1));
        profile.report();
        profile.clear();
        assertEquals(List.of(), profile.report());
        for (int i = 0; i < 10; i++) {
            profile.around("fill_f32", () -> device.kernel(1));
            profile.report();
        }
        assertEquals(2, device.created, "two events, reused after each settle");
        assertEquals(10, profile.report().get(0).launches());
    }

    @Test
    void closingDestroysEveryEventAndAFailedLaunchIsNotTimed() {
        FakeDevice device = new FakeDevice();
        KernelProfile<double[]> profile = new KernelProfile<>(device);
        profile.around("fill_f32", () -> device.kernel(1));
        IllegalStateException refused = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> profile.around("unary_f32", () -> {
                    throw new IllegalStateException("cuda: launching unary_f32 failed");
                }));
        assertTrue(refused.getMessage().contains("launching unary_f32"), "the launch's own error comes through");
        profile.around("fill_f32", () -> device.kernel(1));
        assertEquals(List.of("fill_f32"), profile.report().stream().map(KernelProfile.Line::kernel).toList());
        profile.close();
        assertEquals(device.created, device.destroyed, "every event made is destroyed on close");
    }

    @Test
    void longRunsSettleInBatches() {
        FakeDevice device = new FakeDevice();
        KernelProfile<double[]> profile = new KernelProfile<>(device);
        int n = 3 * KernelProfile.SETTLE_EVERY + 5;
        for (int i = 0; i < n; i++) {
            profile.around("axpby_list_f32", () -> device.kernel(0.001));
        }
        assertTrue(device.created <= 2 * (KernelProfile.SETTLE_EVERY + 1), device.created + " events for " + n + " launches");
        KernelProfile.Line line = profile.report().get(0);
        assertEquals(n, line.launches());
        assertEquals(n * 0.001, line.millis(), 1e-6, "no span lost across the intermediate settles");
    }
}
