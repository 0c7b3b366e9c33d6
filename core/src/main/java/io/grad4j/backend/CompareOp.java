package io.grad4j.backend;

/**
 * Comparisons of two operands (after broadcasting) with a BOOL result, IEEE semantics: a NaN
 * compares unequal to everything, itself included, so every op but NE is false on a NaN. Integer
 * operands compare as integers (an INT64 past 2^53 is not rounded through a double).
 */
public enum CompareOp {
    EQ, NE, LT, LE, GT, GE;

    public boolean test(double a, double b) {
        return switch (this) {
            case EQ -> a == b;
            case NE -> a != b;
            case LT -> a < b;
            case LE -> a <= b;
            case GT -> a > b;
            case GE -> a >= b;
        };
    }

    public boolean test(long a, long b) {
        return switch (this) {
            case EQ -> a == b;
            case NE -> a != b;
            case LT -> a < b;
            case LE -> a <= b;
            case GT -> a > b;
            case GE -> a >= b;
        };
    }
}
