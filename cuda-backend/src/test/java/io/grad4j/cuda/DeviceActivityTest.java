package io.grad4j.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DeviceActivityTest {
    @Test
    void differenceAndPerStepAverages() {
        DeviceActivity before = new DeviceActivity(100, 3, 2, 4096, 1, 512);
        DeviceActivity after = new DeviceActivity(1100, 13, 22, 4096 + 20 * 2048, 21, 512 + 20 * 512);
        DeviceActivity d = after.since(before);
        assertEquals(new DeviceActivity(1000, 10, 20, 40960, 20, 10240), d);
        assertEquals("per step: 100.0 kernel launches, 1.00 stream waits, 2.00 uploads (4.0 KiB), 2.00 downloads (1.0 KiB)",
                d.perStep(10));
        assertEquals(d.perStep(1), d.perStep(0), "zero steps count as one rather than dividing by zero");
    }
}
