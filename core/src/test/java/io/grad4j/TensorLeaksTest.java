package io.grad4j;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The detector is off unless -Dgrad4j.debug.leaks=true; its behaviour with the switch on is
 * checked in a child JVM by LeakDetectorTest in the cpu backend (the switch is read once).
 */
class TensorLeaksTest {
    @Test
    void offByDefaultAndThenRecordsNothing() {
        assertFalse(TensorLeaks.ENABLED);
        assertFalse(TensorLeaks.liveCount() > 0);
    }
}
