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
    MUL_SCALAR; // y = p x;           dy/dx = p

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
        };
    }

    /** Whether {@link #derivative} reads y (so a backward kernel needs the forward output). */
    public boolean derivativeNeedsOutput() {
        return this == EXP || this == SQRT || this == TANH || this == SIGMOID;
    }

    /** Whether {@link #derivative} reads x (so backward needs the forward input as it was). */
    public boolean derivativeNeedsInput() {
        return this == LOG || this == ABS || this == RELU || this == POW;
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
