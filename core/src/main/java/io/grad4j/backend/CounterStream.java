package io.grad4j.backend;

/**
 * The counter-based random stream of grad4j: draw i of seed s depends only on (s, i), through the
 * SplitMix64 finaliser, so any device computes the same values in any order and in parallel.
 * {@code Tensor.rand} and {@code Tensor.randn} draw from it on the host; {@link Backend#dropout}
 * draws from it on the device (the cuda kernel repeats {@link #bits} in 64-bit integer arithmetic).
 */
public final class CounterStream {
    private CounterStream() {
    }

    /** 64 well-mixed bits for (seed, counter); arithmetic wraps modulo 2^64. */
    public static long bits(long seed, long counter) {
        long z = seed * 0x9E3779B97F4A7C15L + counter * 0xD1B54A32D192ED03L + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1): the top 53 bits k of {@link #bits}, as k * 2^-53 (exact). */
    public static double uniform(long seed, long counter) {
        return (bits(seed, counter) >>> 11) * 0x1.0p-53;
    }

    /**
     * The least 53-bit draw k with k * 2^-53 >= p, so that {@code uniform(s, i) >= p} is
     * {@code (bits(s, i) >>> 11) >= keepFrom(p)} in integers: p * 2^53 is exact (a power-of-two
     * scaling), and k, an integer, is at least it exactly when it is at least its ceiling.
     */
    public static long keepFrom(double p) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout: p must lie in [0, 1), got p=" + p);
        }
        return (long) Math.ceil(p * 0x1.0p53);
    }
}
