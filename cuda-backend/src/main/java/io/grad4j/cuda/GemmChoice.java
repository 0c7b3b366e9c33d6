package io.grad4j.cuda;

import java.util.Locale;

/** Which matrix engine {@code grad4j.cuda.gemm} asks for: auto (cuBLAS if it loads), cublas or builtin. */
enum GemmChoice {
    AUTO, CUBLAS, BUILTIN;

    static final String PROPERTY = "grad4j.cuda.gemm";

    static GemmChoice requested() {
        return parse(System.getProperty(PROPERTY, "auto"));
    }

    static GemmChoice parse(String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "auto", "" -> AUTO;
            case "cublas" -> CUBLAS;
            case "builtin" -> BUILTIN;
            default -> throw new IllegalArgumentException(PROPERTY + " must be auto, cublas or builtin, got '" + value + "'");
        };
    }
}
