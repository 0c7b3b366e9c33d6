package io.grad4j;

import io.grad4j.backend.CounterStream;

/**
 * Counter-based random numbers: element i of a tensor drawn with seed s depends only on (s, i),
 * through the SplitMix64 finaliser ({@link CounterStream}). Any device can compute the same stream
 * in parallel; core generates rand and randn on the host, so a seed gives identical tensors on
 * every backend.
 */
final class CounterRandom {
    private static final double TWO_PI = 2 * Math.PI;

    private CounterRandom() {
    }

    /** 64 well-mixed bits for (seed, counter) ({@link CounterStream#bits}). */
    static long bits(long seed, long counter) {
        return CounterStream.bits(seed, counter);
    }

    /** Uniform in [0, 1) with 53 random bits ({@link CounterStream#uniform}). */
    static double uniformAt(long seed, long counter) {
        return CounterStream.uniform(seed, counter);
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
