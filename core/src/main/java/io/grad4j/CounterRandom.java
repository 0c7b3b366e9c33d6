package io.grad4j;

/**
 * Counter-based random numbers: element i of a tensor drawn with seed s depends only on (s, i),
 * through the SplitMix64 finaliser. Any device can compute the same stream in parallel, and core
 * generates it on the host, so a seed gives identical tensors on every backend.
 */
final class CounterRandom {
    private static final double TWO_PI = 2 * Math.PI;

    private CounterRandom() {
    }

    /** 64 well-mixed bits for (seed, counter). */
    static long bits(long seed, long counter) {
        long z = seed * 0x9E3779B97F4A7C15L + counter * 0xD1B54A32D192ED03L + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1) with 53 random bits. */
    static double uniformAt(long seed, long counter) {
        return (bits(seed, counter) >>> 11) * 0x1.0p-53;
    }

    static double[] uniform(long seed, long n) {
        double[] out = new double[checkedLength(n)];
        for (int i = 0; i < out.length; i++) {
            out[i] = uniformAt(seed, i);
        }
        return out;
    }

    /** N(0,1) by Box-Muller from counters 2i and 2i+1 (one value per pair, so each i stands alone). */
    static double[] normal(long seed, long n) {
        double[] out = new double[checkedLength(n)];
        for (int i = 0; i < out.length; i++) {
            double u1 = 1.0 - uniformAt(seed, 2L * i);      // (0, 1]: log stays finite
            double u2 = uniformAt(seed, 2L * i + 1);
            out[i] = Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(TWO_PI * u2);
        }
        return out;
    }

    private static int checkedLength(long n) {
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("random tensor of " + n + " elements is too large to generate on the host");
        }
        return (int) n;
    }
}
