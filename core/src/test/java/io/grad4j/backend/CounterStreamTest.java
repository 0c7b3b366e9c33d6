package io.grad4j.backend;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CounterStreamTest {

    /** The same values sit in the cuda kernel emulation (test_counter_stream_known_answers): both devices draw these. */
    @Test
    void knownAnswersPinTheStream() {
        assertEquals(0x6db6ca64564daeaaL, CounterStream.bits(0, 0));
        assertEquals(0x5cc60547776902baL, CounterStream.bits(1, 0));
        assertEquals(0x5bf9f33c5098100cL, CounterStream.bits(1, 1));
        assertEquals(0x36863b5ad49f1781L, CounterStream.bits(-1, 123456789L));
        assertEquals(0xb620f597f0b61a3bL, CounterStream.bits(0x9E3779B97F4A7C15L * 3 + 7, 5_000_000_000L));
        assertEquals((CounterStream.bits(9, 4) >>> 11) * 0x1.0p-53, CounterStream.uniform(9, 4));
    }

    /** keepFrom's integer threshold keeps exactly the draws the double comparison u >= p keeps. */
    @Test
    void keepFromIsTheIntegerFormOfUniformAtLeastP() {
        Random rnd = new Random(3);
        for (int trial = 0; trial < 20_000; trial++) {
            long seed = rnd.nextLong();
            long i = rnd.nextInt(1 << 20);
            double u = CounterStream.uniform(seed, i);
            long k = CounterStream.bits(seed, i) >>> 11;
            // p at the draw, one double either side of it, and anywhere
            double[] ps = {u, Math.nextDown(u), Math.nextUp(u), rnd.nextDouble()};
            for (double p : ps) {
                if (!(p >= 0 && p < 1)) {
                    continue;
                }
                assertEquals(u >= p, k >= CounterStream.keepFrom(p), "seed " + seed + " i " + i + " p " + p);
            }
        }
        assertEquals(0, CounterStream.keepFrom(0.0));
        assertEquals(1L << 52, CounterStream.keepFrom(0.5));
        assertEquals(1L << 53, CounterStream.keepFrom(Math.nextDown(1.0)) + 1, "the largest p keeps only the top draw");
    }

    @Test
    void keepFromRejectsProbabilitiesOutsideZeroToOne() {
        for (double p : new double[] {1.0, -0.1, Double.NaN, Double.POSITIVE_INFINITY}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CounterStream.keepFrom(p));
            assertTrue(e.getMessage().contains("p=" + p), e.getMessage());
        }
    }
}
