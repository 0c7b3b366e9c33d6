package io.grad4j.cpu;

/**
 * {@link io.grad4j.backend.Backend#cast} between any two dtypes, with Java's conversions: float to
 * integer rounds toward zero, saturates and takes NaN to 0; INT64 to INT32 keeps the low 32 bits;
 * INT64 to FLOAT32 rounds once (not through double); to BOOL is {@code x != 0}, so NaN is true.
 */
final class Casts {
    private Casts() {
    }

    static void cast(CpuStorage s, CpuStorage d) {
        int n = s.size();
        switch (d.dtype()) {
            case FLOAT32 -> {
                for (int k = 0; k < n; k++) {
                    d.f[k] = switch (s.dtype()) {
                        case FLOAT32 -> s.f[k];
                        case FLOAT64 -> (float) s.d[k];
                        case INT32 -> (float) s.i[k];
                        case INT64 -> (float) s.l[k];
                        case BOOL -> s.b[k] ? 1f : 0f;
                    };
                }
            }
            case FLOAT64 -> {
                for (int k = 0; k < n; k++) {
                    d.d[k] = s.get(k); // INT64 beyond 2^53 rounds as (double) does
                }
            }
            case INT32 -> {
                for (int k = 0; k < n; k++) {
                    d.i[k] = switch (s.dtype()) {
                        case FLOAT32 -> (int) s.f[k];
                        case FLOAT64 -> (int) s.d[k];
                        case INT32 -> s.i[k];
                        case INT64 -> (int) s.l[k];
                        case BOOL -> s.b[k] ? 1 : 0;
                    };
                }
            }
            case INT64 -> {
                for (int k = 0; k < n; k++) {
                    d.l[k] = switch (s.dtype()) {
                        case FLOAT32 -> (long) s.f[k];
                        case FLOAT64 -> (long) s.d[k];
                        case INT32 -> s.i[k];
                        case INT64 -> s.l[k];
                        case BOOL -> s.b[k] ? 1L : 0L;
                    };
                }
            }
            case BOOL -> {
                for (int k = 0; k < n; k++) {
                    d.b[k] = switch (s.dtype()) {
                        case FLOAT32 -> s.f[k] != 0;
                        case FLOAT64 -> s.d[k] != 0;
                        case INT32 -> s.i[k] != 0;
                        case INT64 -> s.l[k] != 0;
                        case BOOL -> s.b[k];
                    };
                }
            }
        }
    }
}
