package io.grad4j.cpu;

import io.grad4j.backend.AdamStep;

/**
 * One Adam/AdamW step over a parameter in a single loop ({@code Backend.adamEach}): every value is
 * computed, and rounded, as the step composed of separate operations computes it (scalars
 * converted to float once, each product and sum rounded on its own: Java does not contract them
 * into FMAs), with one pass over p, g, m and v instead of about a dozen over temporaries. Each
 * call updates elements [from, to), so that threads can share a parameter.
 */
final class AdamKernels {
    private AdamKernels() {
    }

    static void step(AdamStep s, float[] p, float[] g, float[] m, float[] v, double stepSize, double invBc2, boolean first,
                     int from, int to) {
        boolean decoupled = s.weightDecay() != 0 && s.decoupled();
        boolean coupled = s.weightDecay() != 0 && !s.decoupled();
        float decay = (float) (1 - s.lr() * s.weightDecay());
        float wd = (float) s.weightDecay();
        float b1 = (float) s.beta1();
        float omb1 = (float) (1 - s.beta1());
        float b2 = (float) s.beta2();
        float omb2 = (float) (1 - s.beta2());
        float eps = (float) s.eps();
        float size = (float) stepSize;
        float inv = (float) invBc2;
        for (int i = from; i < to; i++) {
            float pi = p[i];
            if (decoupled) {
                pi = pi * decay;
            }
            float gi = coupled ? g[i] + pi * wd : g[i];
            float mi = first ? gi * omb1 : m[i] * b1 + gi * omb1;
            float vi = first ? (gi * gi) * omb2 : v[i] * b2 + (gi * gi) * omb2;
            float denom = (float) Math.sqrt(vi) * inv + eps;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi - (mi / denom) * size;
        }
    }

    static void step(AdamStep s, double[] p, double[] g, double[] m, double[] v, double stepSize, double invBc2,
                     boolean first, int from, int to) {
        boolean decoupled = s.weightDecay() != 0 && s.decoupled();
        boolean coupled = s.weightDecay() != 0 && !s.decoupled();
        double decay = 1 - s.lr() * s.weightDecay();
        double wd = s.weightDecay();
        double b1 = s.beta1();
        double omb1 = 1 - s.beta1();
        double b2 = s.beta2();
        double omb2 = 1 - s.beta2();
        double eps = s.eps();
        for (int i = from; i < to; i++) {
            double pi = p[i];
            if (decoupled) {
                pi = pi * decay;
            }
            double gi = coupled ? g[i] + pi * wd : g[i];
            double mi = first ? gi * omb1 : m[i] * b1 + gi * omb1;
            double vi = first ? (gi * gi) * omb2 : v[i] * b2 + (gi * gi) * omb2;
            double denom = Math.sqrt(vi) * invBc2 + eps;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi - (mi / denom) * stepSize;
        }
    }
}
