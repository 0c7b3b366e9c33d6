package io.grad4j.backend;

/**
 * Elementwise functions a backend computes, each with its derivative. The scalar formulas here are
 * the definition every backend must match; they also serve scalar fallbacks and references.
 * {@code p} is the op's parameter (the exponent of POW, the constant of ADD_SCALAR and MUL_SCALAR);
 * other ops ignore it.
 */
public enum UnaryOp {
    NEG,        // y = -x;            dy/dx = -1
    EXP,        // y = e^x;           dy/dx = y
    LOG,        // y = ln x;          dy/dx = 1/x
    SQRT,       // y = sqrt x;        dy/dx = 1/(2y)
    ABS,        // y = |x|;           dy/dx = sign(x), 0 at 0 (PyTorch's choice)
    TANH,       // y = tanh x;        dy/dx = 1 - y^2
    SIGMOID,    // y = 1/(1+e^-x);    dy/dx = y(1-y)
    RELU,       // y = max(x, 0);     dy/dx = [x > 0]   (NaN stays NaN in both, as in PyTorch)
    POW,        // y = x^p;           dy/dx = p x^(p-1)
    ADD_SCALAR, // y = x + p;         dy/dx = 1
    MUL_SCALAR, // y = p x;           dy/dx = p
    ERF,        // y = erf x;         dy/dx = 2/sqrt(pi) e^(-x^2)
    SIN,        // y = sin x;         dy/dx = cos x
    COS,        // y = cos x;         dy/dx = -sin x
    GELU,       // y = x Phi(x) = x/2 (1 + erf(x/sqrt 2));      dy/dx = Phi(x) + x phi(x)
    GELU_TANH;  // y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
                //                    dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)

    /** sqrt(2/pi), the tanh GELU's scale (PyTorch's kBeta). */
    static final double GELU_BETA = 0.7978845608028654;
    static final double GELU_KAPPA = 0.044715;
    private static final double SQRT1_2 = 0.7071067811865476;
    private static final double TWO_OVER_SQRT_PI = 1.1283791670955126;
    /** 1/sqrt(2 pi): the normal density's scale (PyTorch's kAlpha * 2 ... written as M_2_SQRTPI * M_SQRT1_2 * 0.5). */
    private static final double NORMAL_DENSITY = TWO_OVER_SQRT_PI * SQRT1_2 * 0.5;

    /** y = f(x). */
    public double apply(double x, double p) {
        return switch (this) {
            case NEG -> -x;
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case ABS -> Math.abs(x);
            case TANH -> Math.tanh(x);
            case SIGMOID -> sigmoid(x);
            case RELU -> x > 0 || Double.isNaN(x) ? x : 0.0;
            case POW -> Math.pow(x, p);
            case ADD_SCALAR -> x + p;
            case MUL_SCALAR -> x * p;
            case ERF -> erf(x);
            case SIN -> Math.sin(x);
            case COS -> Math.cos(x);
            case GELU -> x * 0.5 * (1.0 + erf(x * SQRT1_2));
            case GELU_TANH -> 0.5 * x * (1.0 + Math.tanh(GELU_BETA * (x + GELU_KAPPA * (x * x * x))));
        };
    }

    /** f'(x), given x and y = f(x) (whichever the formula reads more cheaply). */
    public double derivative(double x, double y, double p) {
        return switch (this) {
            case NEG -> -1.0;
            case EXP -> y;
            case LOG -> 1.0 / x;
            case SQRT -> 0.5 / y;
            case ABS -> x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
            case TANH -> 1.0 - y * y;
            case SIGMOID -> y * (1.0 - y);
            case RELU -> Double.isNaN(x) ? x : (x > 0 ? 1.0 : 0.0);
            case POW -> p == 0 ? 0.0 : p * Math.pow(x, p - 1);
            case ADD_SCALAR -> 1.0;
            case MUL_SCALAR -> p;
            case ERF -> TWO_OVER_SQRT_PI * Math.exp(-x * x);
            case SIN -> Math.cos(x);
            case COS -> -Math.sin(x);
            case GELU -> 0.5 * (1.0 + erf(x * SQRT1_2)) + x * (Math.exp(-0.5 * x * x) * NORMAL_DENSITY);
            case GELU_TANH -> {
                double x2 = x * x;
                double t = Math.tanh(GELU_BETA * (x + GELU_KAPPA * (x2 * x)));
                yield 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * (GELU_BETA * (1.0 + 3.0 * GELU_KAPPA * x2));
            }
        };
    }

    /** Whether {@link #derivative} reads y (so a backward kernel needs the forward output). */
    public boolean derivativeNeedsOutput() {
        return this == EXP || this == SQRT || this == TANH || this == SIGMOID;
    }

    /** Whether {@link #derivative} reads x (so backward needs the forward input as it was). */
    public boolean derivativeNeedsInput() {
        return this == LOG || this == ABS || this == RELU || this == POW || this == ERF || this == SIN || this == COS
                || this == GELU || this == GELU_TANH;
    }

    /**
     * The error function to double precision (Java has none): for |x| < 2.5 the series
     * erf x = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1 3 5 ... (2n+1)), whose terms are all
     * positive (no cancellation); beyond, 1 - erfc x with erfc from its continued fraction
     * e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated from a fixed depth;
     * erf rounds to 1 past 6. Within 9 ulps (2e-15 relative) of glibc's erf, PyTorch's, on
     * [-8, 8] in steps of 0.001; about 80 ns a call, so a float GELU over millions of activations
     * on the cpu pays for it (a float-precision approximation is the way on when that matters).
     */
    public static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        double a = Math.abs(x);
        double r;
        if (a < 2.5) {
            double x2 = a * a;
            double term = a;
            double sum = a;
            for (int n = 1; term > sum * 1e-17; n++) {
                term *= 2.0 * x2 / (2 * n + 1);
                sum += term;
            }
            r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
        } else if (a < 6.0) {
            double f = a;
            for (int n = 60; n >= 1; n--) {
                f = a + (n * 0.5) / f;
            }
            r = 1.0 - Math.exp(-a * a) / (Math.sqrt(Math.PI) * f);
        } else {
            r = 1.0;
        }
        return Math.copySign(r, x);
    }

    /** Numerically stable logistic function: never evaluates e^x for large positive x. */
    static double sigmoid(double x) {
        if (x >= 0) {
            return 1.0 / (1.0 + Math.exp(-x));
        }
        double e = Math.exp(x);
        return e / (1.0 + e);
    }
}
