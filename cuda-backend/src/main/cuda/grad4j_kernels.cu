// grad4j CUDA kernels: the primitives of io.grad4j.backend.Backend, float and double.
//
// Semantics follow the CPU backend (cpu-backend/src/main/java/io/grad4j/cpu) exactly: the
// formulas of UnaryOp, NaN-propagating MAX, the FIRST index equal to the max receives its
// gradient, max-subtracted softmax, log-softmax backward g - exp(y) * sum(g).
// Every reduction is deterministic: no atomics, fixed reduction trees.
//
// Build: cuda-backend/build-kernels.sh (writes the fatbin the backend loads with cuModuleLoadData).
// Operation codes below must match the ordinal() of UnaryOp, BinaryOp and ReduceOp in core.

#include <cstddef>
#include <cstdint>
#include <math_constants.h>
#include <mma.h>

typedef long long i64;

#define MAX_RANK 8

// Shape and strides travel by value as kernel arguments (rank <= 8 after axis collapsing).
struct Dims {
    i64 v[MAX_RANK];
};

// --- UnaryOp ordinals ------------------------------------------------------------------------
enum { U_NEG = 0, U_EXP, U_LOG, U_SQRT, U_ABS, U_TANH, U_SIGMOID, U_RELU, U_POW, U_ADD_SCALAR, U_MUL_SCALAR, U_ERF, U_SIN, U_COS, U_GELU, U_GELU_TANH };
// GELU's constants as PyTorch writes them: sqrt(1/2), sqrt(2/pi) (kBeta), 0.044715 (kKappa), 1/sqrt(2 pi) (kAlpha)
#define GELU_SQRT1_2 0.70710678118654752440
#define GELU_BETA 0.79788456080286535588
#define GELU_KAPPA 0.044715
#define GELU_ALPHA 0.39894228040143267794
#define TWO_OVER_SQRT_PI 1.12837916709551257390
// --- BinaryOp ordinals -----------------------------------------------------------------------
enum { B_ADD = 0, B_SUB, B_MUL, B_DIV };
// --- ReduceOp ordinals -----------------------------------------------------------------------
enum { R_SUM = 0, R_MAX };

#define GRID_STRIDE(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

__device__ __forceinline__ float  d_exp(float x)  { return expf(x); }
__device__ __forceinline__ double d_exp(double x) { return exp(x); }
__device__ __forceinline__ float  d_log(float x)  { return logf(x); }
__device__ __forceinline__ double d_log(double x) { return log(x); }
__device__ __forceinline__ float  d_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double d_sqrt(double x){ return sqrt(x); }
__device__ __forceinline__ float  d_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double d_tanh(double x){ return tanh(x); }
__device__ __forceinline__ float  d_pow(float x, float p)   { return powf(x, p); }
__device__ __forceinline__ double d_pow(double x, double p) { return pow(x, p); }
__device__ __forceinline__ float  d_erf(float x)  { return erff(x); }
__device__ __forceinline__ double d_erf(double x) { return erf(x); }
__device__ __forceinline__ float  d_sin(float x)  { return sinf(x); }
__device__ __forceinline__ double d_sin(double x) { return sin(x); }
__device__ __forceinline__ float  d_cos(float x)  { return cosf(x); }
__device__ __forceinline__ double d_cos(double x) { return cos(x); }
__device__ __forceinline__ float  d_abs(float x)  { return fabsf(x); }
__device__ __forceinline__ double d_abs(double x) { return fabs(x); }
template <typename T> __device__ __forceinline__ bool d_isnan(T x) { return x != x; }
template <typename T> __device__ __forceinline__ T neg_inf();
template <> __device__ __forceinline__ float  neg_inf<float>()  { return -CUDART_INF_F; }
template <> __device__ __forceinline__ double neg_inf<double>() { return -CUDART_INF; }

// Numerically stable logistic function: never evaluates e^x for large positive x.
template <typename T> __device__ __forceinline__ T sigmoid(T x) {
    if (x >= T(0)) {
        return T(1) / (T(1) + d_exp(-x));
    }
    T e = d_exp(x);
    return e / (T(1) + e);
}

template <typename T> __device__ __forceinline__ T unary_apply(int op, T x, T p) {
    switch (op) {
        case U_NEG: return -x;
        case U_EXP: return d_exp(x);
        case U_LOG: return d_log(x);
        case U_SQRT: return d_sqrt(x);
        case U_ABS: return d_abs(x);
        case U_TANH: return d_tanh(x);
        case U_SIGMOID: return sigmoid(x);
        case U_RELU: return (x > T(0) || d_isnan(x)) ? x : T(0);  // NaN propagates, as in PyTorch
        case U_POW: return d_pow(x, p);
        case U_ADD_SCALAR: return x + p;
        case U_MUL_SCALAR: return x * p;
        case U_ERF: return d_erf(x);
        case U_SIN: return d_sin(x);
        case U_COS: return d_cos(x);
        case U_GELU: return x * T(0.5) * (T(1) + d_erf(x * T(GELU_SQRT1_2)));
        case U_GELU_TANH: return T(0.5) * x * (T(1) + d_tanh(T(GELU_BETA) * (x + T(GELU_KAPPA) * (x * x * x))));
        default: return x;
    }
}

// f'(x) given x and y = f(x), the formulas of UnaryOp.derivative.
template <typename T> __device__ __forceinline__ T unary_derivative(int op, T x, T y, T p) {
    switch (op) {
        case U_NEG: return T(-1);
        case U_EXP: return y;
        case U_LOG: return T(1) / x;
        case U_SQRT: return T(0.5) / y;
        case U_ABS: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
        case U_TANH: return T(1) - y * y;
        case U_SIGMOID: return y * (T(1) - y);
        case U_RELU: return d_isnan(x) ? x : (x > T(0) ? T(1) : T(0));
        case U_POW: return p == T(0) ? T(0) : p * d_pow(x, p - T(1));
        case U_ADD_SCALAR: return T(1);
        case U_MUL_SCALAR: return p;
        case U_ERF: return T(TWO_OVER_SQRT_PI) * d_exp(-x * x);
        case U_SIN: return d_cos(x);
        case U_COS: return -d_sin(x);
        case U_GELU: return T(0.5) * (T(1) + d_erf(x * T(GELU_SQRT1_2))) + x * (d_exp(T(-0.5) * x * x) * T(GELU_ALPHA));
        case U_GELU_TANH: {
            T x2 = x * x;
            T t = d_tanh(T(GELU_BETA) * (x + T(GELU_KAPPA) * (x2 * x)));
            return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * (T(GELU_BETA) * (T(1) + T(3.0 * GELU_KAPPA) * x2));
        }
        default: return T(0);
    }
}

template <typename T> __device__ __forceinline__ T binary_apply(int op, T a, T b) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        default: return a / b;
    }
}

// MAX that propagates NaN (the first NaN wins), as the CPU backend does.
template <typename T> __device__ __forceinline__ T max_nan(T acc, T v) {
    if (d_isnan(acc)) return acc;
    if (d_isnan(v)) return v;
    return v > acc ? v : acc;
}

// Offsets in two operands (element strides sa, sb) of contiguous index i over shape (rank axes).
// The loop runs over all MAX_RANK slots, unrolled, and skips those >= rank: a loop bounded by
// rank indexes the Dims structs at run time, which made the compiler copy them into local memory
// (the SASS of binary_strided had 66 local loads and stores). I is the index type of the
// divisions: 32-bit when the element count fits (a 32-bit division is a few instructions, a
// 64-bit one a long sequence); the callers pick it once per launch.
template <typename I> __device__ __forceinline__ void strided_offsets(i64 i, int rank, const Dims& shape, const Dims& sa,
                                                                      const Dims& sb, i64& a, i64& b) {
    I r = (I)i;
    a = 0;
    b = 0;
#pragma unroll
    for (int ax = MAX_RANK - 1; ax >= 0; ax--) {
        if (ax < rank) {
            I d = (I)shape.v[ax];
            I q = r / d;
            i64 idx = (i64)(r - q * d);
            a += idx * sa.v[ax];
            b += idx * sb.v[ax];
            r = q;
        }
    }
}

// Whether every index of an n-element launch fits the 32-bit division path.
__device__ __forceinline__ bool fits_u32(i64 n) { return n <= 0xffffffffLL; }

// =========================================================================== contiguous fast path
// Memory-bound kernels move 16 bytes per access (one LDG.128/STG.128: 4 floats or 2 doubles)
// when every pointer of the call is 16-byte aligned, which the allocator's blocks are; an
// operand at an odd element offset takes the scalar loop, and the last n % 16/sizeof(T)
// elements always do. The alignment test is uniform over the grid, so warps never diverge on it.

template <typename T> struct alignas(16) Pack {
    T v[16 / sizeof(T)];
};

__device__ __forceinline__ bool aligned16(const void* p) { return ((uintptr_t)p & 15u) == 0; }

template <typename T> __device__ __forceinline__ Pack<T> load_pack(const T* p, i64 i) {
    return reinterpret_cast<const Pack<T>*>(p)[i];
}

// f applied lane by lane to packs of the inputs (each pack loaded once).
template <typename T, typename F, typename... P> __device__ __forceinline__ Pack<T> lanes(F f, const P&... in) {
    Pack<T> r;
#pragma unroll
    for (int j = 0; j < (int)(16 / sizeof(T)); j++) r.v[j] = f(in.v[j]...);
    return r;
}

#define GRID_STRIDE_FROM(i, start, n) \
    for (i64 i = (start) + (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

// out[i] = f(in[i]...) for contiguous operands of n elements, by `blocks` blocks of which this is
// number `block` (a grid-stride loop over those blocks only: the multi-tensor kernels give each
// tensor its own range of the grid); out may be one of the inputs (each element is read before
// it is written, by the same thread).
template <typename T, typename F, typename... In>
__device__ __forceinline__ void map_contig_blocks(F f, i64 block, i64 blocks, T* out, i64 n, const In*... in) {
    constexpr int V = 16 / sizeof(T);
    i64 first = block * blockDim.x + threadIdx.x;
    i64 stride = blocks * blockDim.x;
    i64 head = 0;
    if ((aligned16(out) && ... && aligned16(in))) {
        i64 packs = n / V;
        for (i64 p = first; p < packs; p += stride) {
            reinterpret_cast<Pack<T>*>(out)[p] = lanes<T>(f, load_pack(in, p)...);
        }
        head = packs * V;
    }
    for (i64 i = head + first; i < n; i += stride) out[i] = f(in[i]...);
}

// map_contig_blocks over the whole grid.
template <typename T, typename F, typename... In> __device__ __forceinline__ void map_contig(F f, T* out, i64 n, const In*... in) {
    map_contig_blocks(f, blockIdx.x, gridDim.x, out, n, in...);
}

// IEEE-rounded products and sums: nvcc would contract a * x + b * y into an FMA, which the CPU
// backend (Java: no contraction) does not do, and optimizer updates would drift apart.
__device__ __forceinline__ float  mul_rn(float a, float b)   { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float  add_rn(float a, float b)   { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float  sub_rn(float a, float b)   { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float  div_rn(float a, float b)   { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float  sqrt_rn(float a)           { return __fsqrt_rn(a); }
__device__ __forceinline__ double sqrt_rn(double a)          { return __dsqrt_rn(a); }

// The operation code is a kernel argument; dispatching on it once, outside the loop, lets each
// instantiation fold unary_apply/unary_derivative/binary_apply to the one formula it needs.
#define FOR_EACH_UNARY(X) X(U_NEG) X(U_EXP) X(U_LOG) X(U_SQRT) X(U_ABS) X(U_TANH) X(U_SIGMOID) X(U_RELU) \
    X(U_POW) X(U_ADD_SCALAR) X(U_MUL_SCALAR) X(U_ERF) X(U_SIN) X(U_COS) X(U_GELU) X(U_GELU_TANH)
#define FOR_EACH_BINARY(X) X(B_ADD) X(B_SUB) X(B_MUL) X(B_DIV)

// Which values f'(x) reads (see unary_derivative): the backward pass streams only those, so
// tanh backward moves y and g (8 bytes in per float), not x as well.
template <int OP> struct DerivativeReads {
    static constexpr bool x = OP == U_LOG || OP == U_ABS || OP == U_RELU || OP == U_POW || OP == U_ERF || OP == U_SIN ||
                              OP == U_COS || OP == U_GELU || OP == U_GELU_TANH;
    static constexpr bool y = OP == U_EXP || OP == U_SQRT || OP == U_TANH || OP == U_SIGMOID;
};

// =========================================================================== fill and cast

template <typename T> __device__ void fill_impl(T* out, i64 n, T value) {
    map_contig([=](void) { return value; }, out, n);
}
extern "C" __global__ void fill_f32(float* out, i64 n, float value) { fill_impl(out, n, value); }
extern "C" __global__ void fill_f64(double* out, i64 n, double value) { fill_impl(out, n, value); }

// Integer and bool tensors (indices, labels, masks). BOOL is one byte, 0 or 1.
extern "C" __global__ void fill_i32(int* out, i64 n, int value) { GRID_STRIDE(i, n) { out[i] = value; } }
extern "C" __global__ void fill_i64(i64* out, i64 n, i64 value) { GRID_STRIDE(i, n) { out[i] = value; } }
extern "C" __global__ void fill_u8(unsigned char* out, i64 n, int value) { GRID_STRIDE(i, n) { out[i] = (unsigned char)value; } }

// Dtype codes of cast_any, as CudaBackend.dtypeCode numbers them.
enum DtypeCode { DT_F32 = 0, DT_F64 = 1, DT_I32 = 2, DT_I64 = 3, DT_BOOL = 4 };

// Java's narrowing of a double to a long: NaN to 0, saturated, rounded toward zero (C++ leaves
// out-of-range conversions undefined, and x86 and the GPU would disagree).
__device__ __forceinline__ i64 java_double_to_long(double x) {
    if (x != x) return 0;
    if (x >= 9223372036854775807.0) return 9223372036854775807LL; // 2^63 as a double
    if (x <= -9223372036854775808.0) return (-9223372036854775807LL - 1);
    return (i64)x;
}
__device__ __forceinline__ int java_double_to_int(double x) {
    if (x != x) return 0;
    if (x >= 2147483647.0) return 2147483647;
    if (x <= -2147483648.0) return (-2147483647 - 1);
    return (int)x;
}

// Any dtype to any other, converted as Java's casts convert (Backend.cast): the pairs that
// involve an integer or BOOL type; float <-> double keep their own kernels.
extern "C" __global__ void cast_any(const void* src, int from, void* dst, int to, i64 n) {
    GRID_STRIDE(i, n) {
        double real = 0;   // the value, when it came from a floating-point type
        i64 whole = 0;     // the value, when it came from an integer or BOOL type
        bool floating = from == DT_F32 || from == DT_F64;
        switch (from) {
            case DT_F32: real = (double)((const float*)src)[i]; break;
            case DT_F64: real = ((const double*)src)[i]; break;
            case DT_I32: whole = ((const int*)src)[i]; break;
            case DT_I64: whole = ((const i64*)src)[i]; break;
            default: whole = ((const unsigned char*)src)[i] != 0; break;
        }
        switch (to) {
            case DT_F32: ((float*)dst)[i] = floating ? (float)real : (float)whole; break;
            case DT_F64: ((double*)dst)[i] = floating ? real : (double)whole; break;
            case DT_I32: ((int*)dst)[i] = floating ? java_double_to_int(real) : (int)(unsigned int)(unsigned long long)whole; break;
            case DT_I64: ((i64*)dst)[i] = floating ? java_double_to_long(real) : whole; break;
            default: ((unsigned char*)dst)[i] = floating ? (real != 0.0) : (whole != 0); break;
        }
    }
}

extern "C" __global__ void cast_f2d(const float* src, double* dst, i64 n) {
    GRID_STRIDE(i, n) { dst[i] = (double)src[i]; }
}
extern "C" __global__ void cast_d2f(const double* src, float* dst, i64 n) {
    GRID_STRIDE(i, n) { dst[i] = (float)src[i]; }
}

// =========================================================================== elementwise

template <typename T, int OP> __device__ void unary_op(T p, const T* x, T* out, i64 n) {
    map_contig([=](T v) { return unary_apply(OP, v, p); }, out, n, x);
}
template <typename T> __device__ void unary_impl(int op, T p, const T* x, T* out, i64 n) {
    switch (op) {
#define UNARY_CASE(OP) case OP: unary_op<T, OP>(p, x, out, n); return;
        FOR_EACH_UNARY(UNARY_CASE)
#undef UNARY_CASE
    }
}
extern "C" __global__ void unary_f32(int op, float p, const float* x, float* out, i64 n) { unary_impl(op, p, x, out, n); }
extern "C" __global__ void unary_f64(int op, double p, const double* x, double* out, i64 n) { unary_impl(op, p, x, out, n); }

// out = g * f'(x): the Jacobian-vector product of every unary op, fused.
template <typename T, int OP> __device__ void unary_backward_op(T p, const T* x, const T* y, const T* g, T* out, i64 n) {
    if constexpr (DerivativeReads<OP>::x) {
        map_contig([=](T xv, T gv) { return gv * unary_derivative(OP, xv, T(0), p); }, out, n, x, g);
    } else if constexpr (DerivativeReads<OP>::y) {
        map_contig([=](T yv, T gv) { return gv * unary_derivative(OP, T(0), yv, p); }, out, n, y, g);
    } else {
        map_contig([=](T gv) { return gv * unary_derivative(OP, T(0), T(0), p); }, out, n, g);
    }
}
template <typename T> __device__ void unary_backward_impl(int op, T p, const T* x, const T* y, const T* g, T* out, i64 n) {
    switch (op) {
#define UNARY_BACKWARD_CASE(OP) case OP: unary_backward_op<T, OP>(p, x, y, g, out, n); return;
        FOR_EACH_UNARY(UNARY_BACKWARD_CASE)
#undef UNARY_BACKWARD_CASE
    }
}
extern "C" __global__ void unary_backward_f32(int op, float p, const float* x, const float* y, const float* g, float* out, i64 n) {
    unary_backward_impl(op, p, x, y, g, out, n);
}
extern "C" __global__ void unary_backward_f64(int op, double p, const double* x, const double* y, const double* g, double* out, i64 n) {
    unary_backward_impl(op, p, x, y, g, out, n);
}

// y = alpha * x + beta * y in place: optimizer updates in one pass, rounded as the CPU rounds.
template <typename T> struct Axpby {
    T alpha, beta;
    __device__ __forceinline__ T operator()(T xv, T yv) const { return add_rn(mul_rn(alpha, xv), mul_rn(beta, yv)); }
};
template <typename T> __device__ void axpby_impl(T alpha, const T* x, T beta, T* y, i64 n) {
    map_contig(Axpby<T>{alpha, beta}, y, n, x, y);
}
extern "C" __global__ void axpby_f32(float alpha, const float* x, float beta, float* y, i64 n) { axpby_impl(alpha, x, beta, y, n); }
extern "C" __global__ void axpby_f64(double alpha, const double* x, double beta, double* y, i64 n) { axpby_impl(alpha, x, beta, y, n); }

// Dropout: out[i] = x[i] * (kept ? scale : 0), kept when the top 53 bits of the counter-based draw
// (seed, i) reach keep_from (CounterStream.keepFrom: the integer form of uniform >= p). The draw
// is CounterStream.bits (SplitMix64) in unsigned 64-bit arithmetic, which wraps as Java's long
// does, so every backend keeps the same elements. Forward, VJP and JVP alike (x: the input, a
// gradient or a tangent); the mask is recomputed, never stored.
typedef unsigned long long u64;
__device__ __forceinline__ u64 counter_stream_bits(u64 seed, u64 counter) {
    u64 z = seed * 0x9E3779B97F4A7C15ull + counter * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
template <typename T> __device__ void dropout_impl(u64 seed, u64 keep_from, T scale, const T* x, T* out, i64 n) {
    GRID_STRIDE(i, n) {
        T m = (counter_stream_bits(seed, (u64)i) >> 11) >= keep_from ? scale : T(0);
        out[i] = x[i] * m;
    }
}
extern "C" __global__ void dropout_f32(u64 seed, u64 keep_from, float scale, const float* x, float* out, i64 n) {
    dropout_impl(seed, keep_from, scale, x, out, n);
}
extern "C" __global__ void dropout_f64(u64 seed, u64 keep_from, double scale, const double* x, double* out, i64 n) {
    dropout_impl(seed, keep_from, scale, x, out, n);
}

// Multi-tensor kernels: up to PAIR_LIST_MAX independent pairs (x_t, y_t) in one launch, so that
// an optimizer step over all parameters, or the gradient copies at the end of a backward pass,
// cost one launch instead of one per tensor. The list travels by value as a kernel argument
// (1,040 bytes; CUDA allows 4 KB), so nothing is uploaded and a CUDA graph capture records it
// whole. Blocks [blockStart[t], blockStart[t + 1]) of the grid work on pair t; the grid has
// blockStart[count] blocks. Pairs must not overlap one another.
#define PAIR_LIST_MAX 32
struct PairList {
    i64 count;
    const void* x[PAIR_LIST_MAX];
    void* y[PAIR_LIST_MAX];
    i64 n[PAIR_LIST_MAX];
    i64 blockStart[PAIR_LIST_MAX + 1];
};
// CudaBackend packs this struct by hand (PairList.java): keep both in step.
static_assert(sizeof(PairList) == 8 + 4 * 8 * PAIR_LIST_MAX + 8 && offsetof(PairList, x) == 8
                  && offsetof(PairList, y) == 264 && offsetof(PairList, n) == 520 && offsetof(PairList, blockStart) == 776,
              "PairList layout, as PairList.java packs it");

// y_t[i] = f(x_t[i], y_t[i]) (READS_Y) or f(x_t[i]) over this block's share of its pair.
template <typename T, bool READS_Y, typename F> __device__ void pair_list_impl(F f, const PairList& list) {
    i64 b = blockIdx.x;
    int t = 0;
    while (t + 1 < list.count && b >= list.blockStart[t + 1]) t++; // the same for the whole block
    i64 first = list.blockStart[t];
    i64 blocks = list.blockStart[t + 1] - first;
    T* y = static_cast<T*>(list.y[t]);
    const T* x = static_cast<const T*>(list.x[t]);
    if constexpr (READS_Y) map_contig_blocks(f, b - first, blocks, y, list.n[t], x, static_cast<const T*>(y));
    else map_contig_blocks(f, b - first, blocks, y, list.n[t], x);
}
// y_t = alpha * x_t + beta * y_t for every pair: Backend.axpbyEach.
extern "C" __global__ void axpby_list_f32(float alpha, float beta, PairList list) {
    pair_list_impl<float, true>(Axpby<float>{alpha, beta}, list);
}
extern "C" __global__ void axpby_list_f64(double alpha, double beta, PairList list) {
    pair_list_impl<double, true>(Axpby<double>{alpha, beta}, list);
}

// y_t = x_t for every pair: Backend.copyEach (the gradients a backward pass copies over their
// zeroed buffers). y is not read.
extern "C" __global__ void copy_list_f32(PairList list) { pair_list_impl<float, false>([](float v) { return v; }, list); }
extern "C" __global__ void copy_list_f64(PairList list) { pair_list_impl<double, false>([](double v) { return v; }, list); }

// One Adam/AdamW step for up to ADAM_LIST_MAX parameters in one launch (Backend.adamEach): per
// element, p, m and v are read once and written once, where the same step composed of separate
// operations passes over memory about a dozen times. Every operation is rounded as that composed
// step rounds it (each scalar converted to T once, the _rn intrinsics keep nvcc from contracting
// products and sums into FMAs), so both give the same bits. Per-parameter constants (the step
// size lr / (1 - beta1^t), 1 / sqrt(1 - beta2^t), first step) travel in the list; on a first
// step m and v are written without being read.
#define ADAM_LIST_MAX 16
struct AdamList {
    i64 count;
    void* p[ADAM_LIST_MAX];
    const void* g[ADAM_LIST_MAX];
    void* m[ADAM_LIST_MAX];
    void* v[ADAM_LIST_MAX];
    i64 n[ADAM_LIST_MAX];
    i64 blockStart[ADAM_LIST_MAX + 1];
    double stepSize[ADAM_LIST_MAX];
    double invBiasCorrection2Sqrt[ADAM_LIST_MAX];
    i64 first[ADAM_LIST_MAX];
};
// CudaBackend packs this struct by hand (AdamList.java): keep both in step.
static_assert(sizeof(AdamList) == 1168 && offsetof(AdamList, p) == 8 && offsetof(AdamList, g) == 136
                  && offsetof(AdamList, m) == 264 && offsetof(AdamList, v) == 392 && offsetof(AdamList, n) == 520
                  && offsetof(AdamList, blockStart) == 648 && offsetof(AdamList, stepSize) == 784
                  && offsetof(AdamList, invBiasCorrection2Sqrt) == 912 && offsetof(AdamList, first) == 1040,
              "AdamList layout, as AdamList.java packs it");
enum { ADAM_COUPLED_DECAY = 1, ADAM_DECOUPLED_DECAY = 2 };

template <typename T> struct AdamConstants {
    T b1, omb1, b2, omb2, eps, wd, decay;
    int mode;
};

template <typename T> __device__ __forceinline__ void adam_element(const AdamConstants<T>& c, T size, T inv, bool first,
                                                                   T& p, T g, T& m, T& v) {
    if (c.mode & ADAM_DECOUPLED_DECAY) p = mul_rn(p, c.decay);   // AdamW: p * (1 - lr*wd)
    if (c.mode & ADAM_COUPLED_DECAY) g = add_rn(g, mul_rn(p, c.wd)); // Adam:  g + p * wd
    T gg = mul_rn(g, g);
    m = first ? mul_rn(g, c.omb1) : add_rn(mul_rn(m, c.b1), mul_rn(g, c.omb1));
    v = first ? mul_rn(gg, c.omb2) : add_rn(mul_rn(v, c.b2), mul_rn(gg, c.omb2));
    T denom = add_rn(mul_rn(sqrt_rn(v), inv), c.eps);
    p = sub_rn(p, mul_rn(div_rn(m, denom), size));
}

template <typename T> __device__ void adam_list_impl(const AdamConstants<T>& c, const AdamList& list) {
    constexpr int V = 16 / sizeof(T);
    i64 b = blockIdx.x;
    int t = 0;
    while (t + 1 < list.count && b >= list.blockStart[t + 1]) t++; // the same for the whole block
    i64 first_block = list.blockStart[t];
    i64 tid = (b - first_block) * blockDim.x + threadIdx.x;
    i64 stride = (list.blockStart[t + 1] - first_block) * blockDim.x;
    T* P = static_cast<T*>(list.p[t]);
    const T* G = static_cast<const T*>(list.g[t]);
    T* M = static_cast<T*>(list.m[t]);
    T* Vv = static_cast<T*>(list.v[t]);
    i64 n = list.n[t];
    T size = (T)list.stepSize[t];
    T inv = (T)list.invBiasCorrection2Sqrt[t];
    bool first = list.first[t] != 0;
    i64 head = 0;
    if (aligned16(P) && aligned16(G) && aligned16(M) && aligned16(Vv)) {
        i64 packs = n / V;
        for (i64 q = tid; q < packs; q += stride) {
            Pack<T> pp = load_pack(P, q), gp = load_pack(G, q), mp, vp;
            if (!first) {
                mp = load_pack(M, q);
                vp = load_pack(Vv, q);
            }
#pragma unroll
            for (int j = 0; j < V; j++) adam_element(c, size, inv, first, pp.v[j], gp.v[j], mp.v[j], vp.v[j]);
            reinterpret_cast<Pack<T>*>(P)[q] = pp;
            reinterpret_cast<Pack<T>*>(M)[q] = mp;
            reinterpret_cast<Pack<T>*>(Vv)[q] = vp;
        }
        head = packs * V;
    }
    for (i64 i = head + tid; i < n; i += stride) {
        T pv = P[i], mv = first ? T(0) : M[i], vv = first ? T(0) : Vv[i];
        adam_element(c, size, inv, first, pv, G[i], mv, vv);
        P[i] = pv;
        M[i] = mv;
        Vv[i] = vv;
    }
}

// The scalars arrive as doubles, as the composed step's operations receive them, and are
// converted to T here once, as those operations convert them.
template <typename T> __device__ void adam_list_entry(double b1, double omb1, double b2, double omb2, double eps, double wd,
                                                      double decay, int mode, const AdamList& list) {
    AdamConstants<T> c{(T)b1, (T)omb1, (T)b2, (T)omb2, (T)eps, (T)wd, (T)decay, mode};
    adam_list_impl<T>(c, list);
}
extern "C" __global__ void adam_list_f32(double b1, double omb1, double b2, double omb2, double eps, double wd, double decay,
                                         int mode, AdamList list) {
    adam_list_entry<float>(b1, omb1, b2, omb2, eps, wd, decay, mode, list);
}
extern "C" __global__ void adam_list_f64(double b1, double omb1, double b2, double omb2, double eps, double wd, double decay,
                                         int mode, AdamList list) {
    adam_list_entry<double>(b1, omb1, b2, omb2, eps, wd, decay, mode, list);
}

// Operands advance by step 1 (contiguous) or 0 (a scalar: element 0 broadcast). out may alias a.
template <typename T, int OP> __device__ void binary_steps(const T* a, int aStep, const T* b, int bStep, T* out, i64 n) {
    if (aStep && bStep) {
        map_contig([](T av, T bv) { return binary_apply(OP, av, bv); }, out, n, a, b);
    } else if (bStep) {
        T av = a[0];
        map_contig([=](T bv) { return binary_apply(OP, av, bv); }, out, n, b);
    } else if (aStep) {
        T bv = b[0];
        map_contig([=](T av) { return binary_apply(OP, av, bv); }, out, n, a);
    } else {
        T v = binary_apply(OP, a[0], b[0]);
        map_contig([=](void) { return v; }, out, n);
    }
}
template <typename T> __device__ void binary_contig_impl(int op, const T* a, int aStep, const T* b, int bStep, T* out, i64 n) {
    switch (op) {
#define BINARY_CASE(OP) case OP: binary_steps<T, OP>(a, aStep, b, bStep, out, n); return;
        FOR_EACH_BINARY(BINARY_CASE)
#undef BINARY_CASE
    }
}
extern "C" __global__ void binary_contig_f32(int op, const float* a, int aStep, const float* b, int bStep, float* out, i64 n) {
    binary_contig_impl(op, a, aStep, b, bStep, out, n);
}
extern "C" __global__ void binary_contig_f64(int op, const double* a, int aStep, const double* b, int bStep, double* out, i64 n) {
    binary_contig_impl(op, a, aStep, b, bStep, out, n);
}

// A contiguous [rows, cols] output from operands whose columns step by 1 or 0 and whose rows step
// by any stride: a bias add ([rows, cols] + [cols]), a per-row scale ([rows, cols] * [rows, 1]).
// blockIdx.y walks the rows, so no thread divides a flat index by the shape; within a row the
// contiguous path above runs, with 16-byte accesses when the row starts are aligned.
template <typename T> __device__ void binary_rows_impl(int op, const T* a, i64 aRow, int aStep, const T* b, i64 bRow, int bStep,
                                                       T* out, i64 rows, i64 cols) {
    for (i64 r = blockIdx.y; r < rows; r += gridDim.y) {
        binary_contig_impl(op, a + r * aRow, aStep, b + r * bRow, bStep, out + r * cols, cols);
    }
}
extern "C" __global__ void binary_rows_f32(int op, const float* a, i64 aRow, int aStep, const float* b, i64 bRow, int bStep,
                                           float* out, i64 rows, i64 cols) {
    binary_rows_impl(op, a, aRow, aStep, b, bRow, bStep, out, rows, cols);
}
extern "C" __global__ void binary_rows_f64(int op, const double* a, i64 aRow, int aStep, const double* b, i64 bRow, int bStep,
                                           double* out, i64 rows, i64 cols) {
    binary_rows_impl(op, a, aRow, aStep, b, bRow, bStep, out, rows, cols);
}

template <typename T, typename I> __device__ void binary_strided_loop(int op, const T* a, const T* b, T* out, i64 n, int rank,
                                                                       const Dims& shape, const Dims& as, const Dims& bs) {
    GRID_STRIDE(i, n) {
        i64 ao, bo;
        strided_offsets<I>(i, rank, shape, as, bs, ao, bo);
        out[i] = binary_apply(op, a[ao], b[bo]);
    }
}
template <typename T> __device__ void binary_strided_impl(int op, const T* a, const T* b, T* out, i64 n, int rank,
                                                          const Dims& shape, const Dims& as, const Dims& bs) {
    if (fits_u32(n)) binary_strided_loop<T, unsigned>(op, a, b, out, n, rank, shape, as, bs);
    else binary_strided_loop<T, i64>(op, a, b, out, n, rank, shape, as, bs);
}
extern "C" __global__ void binary_strided_f32(int op, const float* a, const float* b, float* out, i64 n, int rank,
                                              Dims shape, Dims as, Dims bs) {
    binary_strided_impl(op, a, b, out, n, rank, shape, as, bs);
}
extern "C" __global__ void binary_strided_f64(int op, const double* a, const double* b, double* out, i64 n, int rank,
                                              Dims shape, Dims as, Dims bs) {
    binary_strided_impl(op, a, b, out, n, rank, shape, as, bs);
}

// dst[dst_off + sum i_k * d_k] = src[src_off + sum i_k * s_k]: contiguous(), transposes, broadcasts
// and writes into views. The host checked that the destination positions are distinct.
template <typename T, typename I> __device__ void strided_copy_loop(const T* src, T* dst, i64 n, int rank, const Dims& shape,
                                                                    const Dims& s, const Dims& d) {
    GRID_STRIDE(i, n) {
        i64 at, to;
        strided_offsets<I>(i, rank, shape, s, d, at, to);
        dst[to] = src[at];
    }
}
template <typename T> __device__ void strided_copy_impl(const T* src, i64 src_off, T* dst, i64 dst_off, i64 n, int rank,
                                                        const Dims& shape, const Dims& s, const Dims& d) {
    if (fits_u32(n)) strided_copy_loop<T, unsigned>(src + src_off, dst + dst_off, n, rank, shape, s, d);
    else strided_copy_loop<T, i64>(src + src_off, dst + dst_off, n, rank, shape, s, d);
}
extern "C" __global__ void strided_copy_f32(const float* src, i64 src_off, float* dst, i64 dst_off, i64 n, int rank,
                                            Dims shape, Dims s, Dims d) {
    strided_copy_impl(src, src_off, dst, dst_off, n, rank, shape, s, d);
}
extern "C" __global__ void strided_copy_f64(const double* src, i64 src_off, double* dst, i64 dst_off, i64 n, int rank,
                                            Dims shape, Dims s, Dims d) {
    strided_copy_impl(src, src_off, dst, dst_off, n, rank, shape, s, d);
}
extern "C" __global__ void strided_copy_i32(const int* src, i64 src_off, int* dst, i64 dst_off, i64 n, int rank,
                                            Dims shape, Dims s, Dims d) {
    strided_copy_impl(src, src_off, dst, dst_off, n, rank, shape, s, d);
}
extern "C" __global__ void strided_copy_i64(const i64* src, i64 src_off, i64* dst, i64 dst_off, i64 n, int rank,
                                            Dims shape, Dims s, Dims d) {
    strided_copy_impl(src, src_off, dst, dst_off, n, rank, shape, s, d);
}
extern "C" __global__ void strided_copy_u8(const unsigned char* src, i64 src_off, unsigned char* dst, i64 dst_off, i64 n,
                                           int rank, Dims shape, Dims s, Dims d) {
    strided_copy_impl(src, src_off, dst, dst_off, n, rank, shape, s, d);
}

// =========================================================================== reductions
// The tensor is viewed as [outer, axis, inner]. A float SUM accumulates in double, as the CPU does.

template <typename T> struct Acc { typedef T type; };
template <> struct Acc<float> { typedef double type; };

template <typename A> __device__ __forceinline__ A warp_sum(A v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}
template <typename A> __device__ __forceinline__ A warp_max(A v) {
    for (int o = 16; o > 0; o >>= 1) v = max_nan(v, __shfl_down_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide reduction of one value per thread; result valid in every thread.
template <typename A, bool IS_MAX> __device__ A block_reduce(A v, A* scratch) {
    int lane = threadIdx.x & 31;
    int wid = threadIdx.x >> 5;
    v = IS_MAX ? warp_max(v) : warp_sum(v);
    __syncthreads(); // scratch may still be read from a previous call
    if (lane == 0) scratch[wid] = v;
    __syncthreads();
    int nw = blockDim.x >> 5;
    if (wid == 0) {
        A w = lane < nw ? scratch[lane] : (IS_MAX ? (A)(-CUDART_INF) : A(0));
        w = IS_MAX ? warp_max(w) : warp_sum(w);
        if (lane == 0) scratch[0] = w;
    }
    __syncthreads();
    return scratch[0];
}

// inner == 1 with long rows (a full sum, a loss): one block per row, a fixed-shape tree over the
// block (warp shuffles, then one warp over the warps' partials).
template <typename T> __device__ void reduce_rows_block_impl(int op, const T* x, T* out, i64 rows, int axis) {
    typedef typename Acc<T>::type A;
    __shared__ A scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + r * axis;
        if (op == R_SUM) {
            A s = 0;
            for (int j = threadIdx.x; j < axis; j += blockDim.x) s += (A)row[j];
            s = block_reduce<A, false>(s, scratch);
            if (threadIdx.x == 0) out[r] = (T)s;
        } else {
            A m = (A)neg_inf<T>();
            for (int j = threadIdx.x; j < axis; j += blockDim.x) m = max_nan(m, (A)row[j]);
            m = block_reduce<A, true>(m, scratch);
            if (threadIdx.x == 0) out[r] = (T)m;
        }
    }
}
extern "C" __global__ void reduce_rows_block_f32(int op, const float* x, float* out, i64 rows, int axis) { reduce_rows_block_impl(op, x, out, rows, axis); }
extern "C" __global__ void reduce_rows_block_f64(int op, const double* x, double* out, i64 rows, int axis) { reduce_rows_block_impl(op, x, out, rows, axis); }

// inner == 1: one warp per output row; lanes stride over the (contiguous) row, then shuffle.
// blockDim.x = 256 (8 warps, 8 rows per block), grid-stride over rows.
template <typename T> __device__ void reduce_rows_impl(int op, const T* x, T* out, i64 rows, int axis) {
    typedef typename Acc<T>::type A;
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 r = warp; r < rows; r += warps) {
        const T* row = x + r * axis;
        if (op == R_SUM) {
            A s = 0;
            for (int j = lane; j < axis; j += 32) s += (A)row[j];
            s = warp_sum(s);
            if (lane == 0) out[r] = (T)s;
        } else {
            // a lane's running max keeps the first NaN it meets; any NaN in the row gives NaN
            T m = neg_inf<T>();
            for (int j = lane; j < axis; j += 32) m = max_nan(m, row[j]);
            m = warp_max(m);
            if (lane == 0) out[r] = m;
        }
    }
}
// inner > 1: one thread per output element, serial over the axis; neighbouring threads read
// neighbouring addresses, so loads coalesce.
template <typename T> __device__ void reduce_cols_impl(int op, const T* x, T* out, i64 outer, int axis, i64 inner) {
    typedef typename Acc<T>::type A;
    GRID_STRIDE(t, outer * inner) {
        i64 o = t / inner;
        i64 i = t - o * inner;
        const T* base = x + o * axis * inner + i;
        if (op == R_SUM) {
            A s = 0;
            for (int j = 0; j < axis; j++) s += (A)base[(i64)j * inner];
            out[t] = (T)s;
        } else {
            T m = neg_inf<T>();
            for (int j = 0; j < axis; j++) m = max_nan(m, base[(i64)j * inner]);
            out[t] = m;
        }
    }
}
// inner > 1 with a long axis and few columns (a bias gradient: [8192, 512] summed over the batch),
// where reduce_cols would give each of a few hundred threads thousands of dependent steps: blocks
// of 1024 threads as 32 columns x 32 lanes; lane l sums rows l, l + 32, ... of its column (the 32
// columns of a warp read neighbouring addresses), then each column's 32 partial results are
// combined in a fixed tree in shared memory: deterministic, no atomics.
template <typename T> __device__ void reduce_cols_wide_impl(int op, const T* x, T* out, i64 outer, int axis, i64 inner) {
    typedef typename Acc<T>::type A;
    __shared__ A part[32][33]; // [lane][column], padded: a warp's 32 columns fall in distinct banks
    int column = threadIdx.x & 31;
    int lane = threadIdx.x >> 5;
    i64 columnTiles = (inner + 31) / 32;
    for (i64 tile = blockIdx.x; tile < outer * columnTiles; tile += gridDim.x) {
        i64 o = tile / columnTiles;
        i64 i = (tile - o * columnTiles) * 32 + column;
        A acc = op == R_SUM ? A(0) : (A)neg_inf<T>();
        if (i < inner) {
            const T* base = x + o * axis * inner + i;
            for (int j = lane; j < axis; j += 32) {
                A v = (A)base[(i64)j * inner];
                acc = op == R_SUM ? acc + v : max_nan(acc, v);
            }
        }
        part[lane][column] = acc;
        __syncthreads();
        for (int half = 16; half > 0; half >>= 1) {
            if (lane < half) {
                A other = part[lane + half][column];
                part[lane][column] = op == R_SUM ? part[lane][column] + other : max_nan(part[lane][column], other);
            }
            __syncthreads();
        }
        if (lane == 0 && i < inner) out[o * inner + i] = (T)part[0][column];
        __syncthreads(); // the next tile writes part again
    }
}
extern "C" __global__ void __launch_bounds__(1024) reduce_cols_wide_f32(int op, const float* x, float* out, i64 outer, int axis, i64 inner) {
    reduce_cols_wide_impl(op, x, out, outer, axis, inner);
}
extern "C" __global__ void __launch_bounds__(1024) reduce_cols_wide_f64(int op, const double* x, double* out, i64 outer, int axis, i64 inner) {
    reduce_cols_wide_impl(op, x, out, outer, axis, inner);
}
extern "C" __global__ void reduce_rows_f32(int op, const float* x, float* out, i64 rows, int axis) { reduce_rows_impl(op, x, out, rows, axis); }
extern "C" __global__ void reduce_rows_f64(int op, const double* x, double* out, i64 rows, int axis) { reduce_rows_impl(op, x, out, rows, axis); }
extern "C" __global__ void reduce_cols_f32(int op, const float* x, float* out, i64 outer, int axis, i64 inner) { reduce_cols_impl(op, x, out, outer, axis, inner); }
extern "C" __global__ void reduce_cols_f64(int op, const double* x, double* out, i64 outer, int axis, i64 inner) { reduce_cols_impl(op, x, out, outer, axis, inner); }

template <typename T> __device__ __forceinline__ bool max_matches(T v, T m) {
    return v == m || (d_isnan(m) && d_isnan(v));
}

// Gradient of MAX: out[o, j, i] = grad[o, i] at the FIRST j where x equals max, 0 elsewhere.
// inner == 1: one warp per row; a ballot over each 32-wide chunk finds the first match.
template <typename T> __device__ void max_backward_rows_impl(const T* x, const T* mx, const T* g, T* out, i64 rows, int axis) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 r = warp; r < rows; r += warps) {
        const T* row = x + r * axis;
        T* orow = out + r * axis;
        T m = mx[r];
        T gv = g[r];
        bool found = false;
        for (int base = 0; base < axis; base += 32) {
            int j = base + lane;
            bool hit = j < axis && !found && max_matches(row[j], m);
            unsigned ballot = __ballot_sync(0xffffffffu, hit);
            int first = ballot ? __ffs(ballot) - 1 : 32;
            if (j < axis) orow[j] = (!found && lane == first) ? gv : T(0);
            found = found || ballot != 0;
        }
    }
}
template <typename T> __device__ void max_backward_cols_impl(const T* x, const T* mx, const T* g, T* out, i64 outer, int axis, i64 inner) {
    GRID_STRIDE(t, outer * inner) {
        i64 o = t / inner;
        i64 i = t - o * inner;
        i64 base = o * axis * inner + i;
        T m = mx[t];
        T gv = g[t];
        bool found = false;
        for (int j = 0; j < axis; j++) {
            i64 k = base + (i64)j * inner;
            bool hit = !found && max_matches(x[k], m);
            out[k] = hit ? gv : T(0);
            found = found || hit;
        }
    }
}
extern "C" __global__ void max_backward_rows_f32(const float* x, const float* mx, const float* g, float* out, i64 rows, int axis) { max_backward_rows_impl(x, mx, g, out, rows, axis); }
extern "C" __global__ void max_backward_rows_f64(const double* x, const double* mx, const double* g, double* out, i64 rows, int axis) { max_backward_rows_impl(x, mx, g, out, rows, axis); }
extern "C" __global__ void max_backward_cols_f32(const float* x, const float* mx, const float* g, float* out, i64 outer, int axis, i64 inner) { max_backward_cols_impl(x, mx, g, out, outer, axis, inner); }
extern "C" __global__ void max_backward_cols_f64(const double* x, const double* mx, const double* g, double* out, i64 outer, int axis, i64 inner) { max_backward_cols_impl(x, mx, g, out, outer, axis, inner); }

// =========================================================================== argmax and indexing
// The indexed tensor is viewed as [outer, axis, inner], the gathered one as [outer, count, inner];
// the INT64 index is read at index[o * s0 + j * s1 + i * s2] (stride 0 broadcasts it). An index
// outside [0, axis) is reported in err[0..2] = {1 + op (0 gather, 1 scatter_add), index, axis}
// with plain stores (several bad threads may race; every value they store is a bad index of this
// launch, and the host reads err only after the stream is synchronised), and skipped.

enum CompareCode { C_EQ = 0, C_NE, C_LT, C_LE, C_GT, C_GE }; // CompareOp ordinals

// out[o, i] = the first j where x[o, j, i] is largest, a NaN counting as largest (PyTorch's
// argmax); one thread per output, serial over the axis (neighbouring threads read neighbouring
// addresses when inner > 1).
template <typename T> __device__ void argmax_impl(const T* x, i64* out, i64 outer, int axis, i64 inner) {
    GRID_STRIDE(t, outer * inner) {
        i64 o = t / inner;
        i64 i = t - o * inner;
        const T* base = x + o * axis * inner + i;
        T m = base[0];
        int best = 0;
        for (int j = 1; j < axis && !d_isnan(m); j++) {
            T v = base[(i64)j * inner];
            if (v > m || d_isnan(v)) {
                m = v;
                best = j;
            }
        }
        out[t] = best;
    }
}
extern "C" __global__ void argmax_f32(const float* x, i64* out, i64 outer, int axis, i64 inner) { argmax_impl(x, out, outer, axis, inner); }
extern "C" __global__ void argmax_f64(const double* x, i64* out, i64 outer, int axis, i64 inner) { argmax_impl(x, out, outer, axis, inner); }

__device__ __forceinline__ void report_bad_index(i64* err, int op, i64 index, i64 axis) {
    err[1] = index;
    err[2] = axis;
    err[0] = 1 + op;
}

// out[o, j, i] = src[o, index[.], i], one thread per output element (0 where the index is bad).
template <typename T> __device__ void gather_impl(const T* src, int axis, const i64* index, i64 s0, i64 s1, i64 s2, T* out,
                                                  i64 outer, int count, i64 inner, i64* err) {
    i64 n = outer * count * inner;
    GRID_STRIDE(e, n) {
        i64 i = e % inner;
        i64 rest = e / inner;
        i64 j = rest % count;
        i64 o = rest / count;
        i64 k = index[o * s0 + j * s1 + i * s2];
        if (k < 0 || k >= axis) {
            report_bad_index(err, 0, k, axis);
            out[e] = T(0);
        } else {
            out[e] = src[(o * axis + k) * inner + i];
        }
    }
}
extern "C" __global__ void gather_f32(const float* src, int axis, const i64* index, i64 s0, i64 s1, i64 s2, float* out, i64 outer, int count, i64 inner, i64* err) {
    gather_impl(src, axis, index, s0, s1, s2, out, outer, count, inner, err);
}
extern "C" __global__ void gather_f64(const double* src, int axis, const i64* index, i64 s0, i64 s1, i64 s2, double* out, i64 outer, int count, i64 inner, i64* err) {
    gather_impl(src, axis, index, s0, s1, s2, out, outer, count, inner, err);
}
extern "C" __global__ void gather_i32(const int* src, int axis, const i64* index, i64 s0, i64 s1, i64 s2, int* out, i64 outer, int count, i64 inner, i64* err) {
    gather_impl(src, axis, index, s0, s1, s2, out, outer, count, inner, err);
}
extern "C" __global__ void gather_i64(const i64* src, int axis, const i64* index, i64 s0, i64 s1, i64 s2, i64* out, i64 outer, int count, i64 inner, i64* err) {
    gather_impl(src, axis, index, s0, s1, s2, out, outer, count, inner, err);
}
extern "C" __global__ void gather_u8(const unsigned char* src, int axis, const i64* index, i64 s0, i64 s1, i64 s2, unsigned char* out, i64 outer, int count, i64 inner, i64* err) {
    gather_impl(src, axis, index, s0, s1, s2, out, outer, count, inner, err);
}

// out[o, index[o, j, i], i] += src[o, j, i] for j = 0, 1, ... in order: one thread per (o, i)
// column walks j, so every output element is written by one thread in a fixed order (the same
// bits every run, no atomics). Parallel over outer * inner only: an embedding's backward has a
// thread per width element, each walking every token; fast enough beside the products, and a
// sorted-segment kernel is the way on when it is not.
template <typename T> __device__ void scatter_add_impl(const T* src, const i64* index, i64 s0, i64 s1, i64 s2, T* out,
                                                       int axis, i64 outer, int count, i64 inner, i64* err) {
    GRID_STRIDE(t, outer * inner) {
        i64 o = t / inner;
        i64 i = t - o * inner;
        for (int j = 0; j < count; j++) {
            i64 k = index[o * s0 + (i64)j * s1 + i * s2];
            if (k < 0 || k >= axis) {
                report_bad_index(err, 1, k, axis);
                continue;
            }
            out[(o * axis + k) * inner + i] += src[(o * count + j) * inner + i];
        }
    }
}
extern "C" __global__ void scatter_add_f32(const float* src, const i64* index, i64 s0, i64 s1, i64 s2, float* out, int axis, i64 outer, int count, i64 inner, i64* err) {
    scatter_add_impl(src, index, s0, s1, s2, out, axis, outer, count, inner, err);
}
extern "C" __global__ void scatter_add_f64(const double* src, const i64* index, i64 s0, i64 s1, i64 s2, double* out, int axis, i64 outer, int count, i64 inner, i64* err) {
    scatter_add_impl(src, index, s0, s1, s2, out, axis, outer, count, inner, err);
}
extern "C" __global__ void scatter_add_i32(const int* src, const i64* index, i64 s0, i64 s1, i64 s2, int* out, int axis, i64 outer, int count, i64 inner, i64* err) {
    scatter_add_impl(src, index, s0, s1, s2, out, axis, outer, count, inner, err);
}
extern "C" __global__ void scatter_add_i64(const i64* src, const i64* index, i64 s0, i64 s1, i64 s2, i64* out, int axis, i64 outer, int count, i64 inner, i64* err) {
    scatter_add_impl(src, index, s0, s1, s2, out, axis, outer, count, inner, err);
}

template <typename T> __device__ __forceinline__ bool compare_apply(int op, T a, T b) {
    switch (op) {
        case C_EQ: return a == b;
        case C_NE: return a != b;
        case C_LT: return a < b;
        case C_LE: return a <= b;
        case C_GT: return a > b;
        default: return a >= b;
    }
}
// out[i] = op(a[.], b[.]) as 0 or 1, operands at strides as binary_strided reads them.
template <typename T> __device__ void compare_impl(int op, const T* a, const T* b, unsigned char* out, i64 n, int rank,
                                                   const Dims& shape, const Dims& as, const Dims& bs) {
    GRID_STRIDE(i, n) {
        i64 ao, bo;
        strided_offsets<i64>(i, rank, shape, as, bs, ao, bo);
        out[i] = compare_apply(op, a[ao], b[bo]) ? 1 : 0;
    }
}
extern "C" __global__ void compare_f32(int op, const float* a, const float* b, unsigned char* out, i64 n, int rank, Dims shape, Dims as, Dims bs) {
    compare_impl(op, a, b, out, n, rank, shape, as, bs);
}
extern "C" __global__ void compare_f64(int op, const double* a, const double* b, unsigned char* out, i64 n, int rank, Dims shape, Dims as, Dims bs) {
    compare_impl(op, a, b, out, n, rank, shape, as, bs);
}
extern "C" __global__ void compare_i32(int op, const int* a, const int* b, unsigned char* out, i64 n, int rank, Dims shape, Dims as, Dims bs) {
    compare_impl(op, a, b, out, n, rank, shape, as, bs);
}
extern "C" __global__ void compare_i64(int op, const i64* a, const i64* b, unsigned char* out, i64 n, int rank, Dims shape, Dims as, Dims bs) {
    compare_impl(op, a, b, out, n, rank, shape, as, bs);
}
extern "C" __global__ void compare_u8(int op, const unsigned char* a, const unsigned char* b, unsigned char* out, i64 n, int rank, Dims shape, Dims as, Dims bs) {
    compare_impl(op, a, b, out, n, rank, shape, as, bs);
}

// out[i] = c[.] ? a[.] : b[.], three operands at their own strides over the output's shape.
template <typename T> __device__ void where_impl(const unsigned char* c, const T* a, const T* b, T* out, i64 n, int rank,
                                                 const Dims& shape, const Dims& cs, const Dims& as, const Dims& bs) {
    GRID_STRIDE(e, n) {
        i64 r = e, co = 0, ao = 0, bo = 0;
#pragma unroll
        for (int ax = MAX_RANK - 1; ax >= 0; ax--) {
            if (ax < rank) {
                i64 d = shape.v[ax];
                i64 q = r / d;
                i64 idx = r - q * d;
                co += idx * cs.v[ax];
                ao += idx * as.v[ax];
                bo += idx * bs.v[ax];
                r = q;
            }
        }
        out[e] = c[co] ? a[ao] : b[bo];
    }
}
extern "C" __global__ void where_f32(const unsigned char* c, const float* a, const float* b, float* out, i64 n, int rank, Dims shape, Dims cs, Dims as, Dims bs) {
    where_impl(c, a, b, out, n, rank, shape, cs, as, bs);
}
extern "C" __global__ void where_f64(const unsigned char* c, const double* a, const double* b, double* out, i64 n, int rank, Dims shape, Dims cs, Dims as, Dims bs) {
    where_impl(c, a, b, out, n, rank, shape, cs, as, bs);
}
extern "C" __global__ void where_i32(const unsigned char* c, const int* a, const int* b, int* out, i64 n, int rank, Dims shape, Dims cs, Dims as, Dims bs) {
    where_impl(c, a, b, out, n, rank, shape, cs, as, bs);
}
extern "C" __global__ void where_i64(const unsigned char* c, const i64* a, const i64* b, i64* out, i64 n, int rank, Dims shape, Dims cs, Dims as, Dims bs) {
    where_impl(c, a, b, out, n, rank, shape, cs, as, bs);
}
extern "C" __global__ void where_u8(const unsigned char* c, const unsigned char* a, const unsigned char* b, unsigned char* out, i64 n, int rank, Dims shape, Dims cs, Dims as, Dims bs) {
    where_impl(c, a, b, out, n, rank, shape, cs, as, bs);
}

// =========================================================================== softmax
// Accumulates in double for both dtypes (as the CPU does); exp in the element type.

// inner == 1: one block per row (grid-stride over rows).
template <typename T> __device__ void softmax_rows_impl(const T* x, T* y, i64 rows, int axis, int log_) {
    __shared__ double scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * axis;
        T* yr = y + r * axis;
        double m = -CUDART_INF;
        for (int j = threadIdx.x; j < axis; j += blockDim.x) m = max_nan(m, (double)xr[j]);
        m = block_reduce<double, true>(m, scratch);
        double s = 0;
        for (int j = threadIdx.x; j < axis; j += blockDim.x) s += (double)d_exp((T)((double)xr[j] - m));
        s = block_reduce<double, false>(s, scratch);
        double logSum = log(s);
        for (int j = threadIdx.x; j < axis; j += blockDim.x) {
            double shifted = (double)xr[j] - m;
            yr[j] = log_ ? (T)(shifted - logSum) : (T)((double)d_exp((T)shifted) / s);
        }
    }
}
// inner > 1: one thread per (o, i) column, serial passes.
template <typename T> __device__ void softmax_cols_impl(const T* x, T* y, i64 outer, int axis, i64 inner, int log_) {
    GRID_STRIDE(t, outer * inner) {
        i64 o = t / inner;
        i64 i = t - o * inner;
        i64 base = o * axis * inner + i;
        double m = -CUDART_INF;
        for (int j = 0; j < axis; j++) m = max_nan(m, (double)x[base + (i64)j * inner]);
        double s = 0;
        for (int j = 0; j < axis; j++) s += (double)d_exp((T)((double)x[base + (i64)j * inner] - m));
        double logSum = log(s);
        for (int j = 0; j < axis; j++) {
            i64 k = base + (i64)j * inner;
            double shifted = (double)x[k] - m;
            y[k] = log_ ? (T)(shifted - logSum) : (T)((double)d_exp((T)shifted) / s);
        }
    }
}
extern "C" __global__ void softmax_rows_f32(const float* x, float* y, i64 rows, int axis, int log_) { softmax_rows_impl(x, y, rows, axis, log_); }
extern "C" __global__ void softmax_rows_f64(const double* x, double* y, i64 rows, int axis, int log_) { softmax_rows_impl(x, y, rows, axis, log_); }
extern "C" __global__ void softmax_cols_f32(const float* x, float* y, i64 outer, int axis, i64 inner, int log_) { softmax_cols_impl(x, y, outer, axis, inner, log_); }
extern "C" __global__ void softmax_cols_f64(const double* x, double* y, i64 outer, int axis, i64 inner, int log_) { softmax_cols_impl(x, y, outer, axis, inner, log_); }

// softmax:     out = y * (g - sum(g * y))
// log-softmax: out = g - exp(y) * sum(g)
template <typename T> __device__ void softmax_backward_rows_impl(const T* y, const T* g, T* out, i64 rows, int axis, int log_) {
    __shared__ double scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* yr = y + r * axis;
        const T* gr = g + r * axis;
        T* orow = out + r * axis;
        double dot = 0;
        for (int j = threadIdx.x; j < axis; j += blockDim.x) dot += log_ ? (double)gr[j] : (double)gr[j] * (double)yr[j];
        dot = block_reduce<double, false>(dot, scratch);
        for (int j = threadIdx.x; j < axis; j += blockDim.x) {
            double gv = gr[j];
            double yv = yr[j];
            orow[j] = log_ ? (T)(gv - (double)d_exp((T)yv) * dot) : (T)(yv * (gv - dot));
        }
    }
}
template <typename T> __device__ void softmax_backward_cols_impl(const T* y, const T* g, T* out, i64 outer, int axis, i64 inner, int log_) {
    GRID_STRIDE(t, outer * inner) {
        i64 o = t / inner;
        i64 i = t - o * inner;
        i64 base = o * axis * inner + i;
        double dot = 0;
        for (int j = 0; j < axis; j++) {
            i64 k = base + (i64)j * inner;
            dot += log_ ? (double)g[k] : (double)g[k] * (double)y[k];
        }
        for (int j = 0; j < axis; j++) {
            i64 k = base + (i64)j * inner;
            double gv = g[k];
            double yv = y[k];
            out[k] = log_ ? (T)(gv - (double)d_exp((T)yv) * dot) : (T)(yv * (gv - dot));
        }
    }
}
extern "C" __global__ void softmax_backward_rows_f32(const float* y, const float* g, float* out, i64 rows, int axis, int log_) { softmax_backward_rows_impl(y, g, out, rows, axis, log_); }
extern "C" __global__ void softmax_backward_rows_f64(const double* y, const double* g, double* out, i64 rows, int axis, int log_) { softmax_backward_rows_impl(y, g, out, rows, axis, log_); }
extern "C" __global__ void softmax_backward_cols_f32(const float* y, const float* g, float* out, i64 outer, int axis, i64 inner, int log_) { softmax_backward_cols_impl(y, g, out, outer, axis, inner, log_); }
extern "C" __global__ void softmax_backward_cols_f64(const double* y, const double* g, double* out, i64 outer, int axis, i64 inner, int log_) { softmax_backward_cols_impl(y, g, out, outer, axis, inner, log_); }

// =========================================================================== GEMM
// C[b] = op(A[b]) @ op(B[b]), row-major; A stored m x k (k x m when transA), B stored k x n
// (n x k when transB); batch strides in elements, 0 = one shared matrix. C is m x n, contiguous.
//
// Every GEMM kernel takes the same arguments (struct GemmArgs, by value) and the same grid:
// x over column tiles, y over row tiles, z over (batch, k-slice) pairs. With splits == 1 a block
// writes its tile of C[batchBase + z]; with splits > 1 (split-K: a tall-skinny product such as a
// weight gradient X^T G has few output tiles and a long k, and would leave most SMs idle) slice s
// of batch entry z / splits covers k in [s * kChunk, (s + 1) * kChunk) and writes its partial
// tile to the workspace C[z], which gemm_splitk_sum then adds up in slice order: deterministic,
// no atomics. Which kernel, tile and split runs is decided on the host (GemmPlan.java).
// bias (n elements, or null; the 64-tile kernels gemm_f32/gemm_f64 only): added to every row of C
// as it is written (a linear layer's bias, CudaBackend.matmulBias), after the product is complete
// in T, so c = (T)product + bias rounds as a separate add would; with split-K, by gemm_splitk_sum
// after the slices are added. The 128-tile kernels hold 128 registers up to their stores, and
// the bias's there spilled (ptxas); the sizes that pick them are compute-bound, where the separate
// add is a small share of the time, so CudaBackend composes their bias instead.

struct GemmArgs {
    int transA, transB, m, n, k;
    int lda, ldb;
    int splits, kChunk;
    int rowTileBase; // grid y counts row tiles from here: a launch covers at most 65535 of them
    i64 strideA, strideB;
    i64 batchBase;
};
// GemmPlan.kernelArgs packs this struct by hand: keep both in step.
static_assert(sizeof(GemmArgs) == 64, "GemmArgs is 64 bytes, as GemmPlan.kernelArgs packs it");
static_assert(offsetof(GemmArgs, kChunk) == 32 && offsetof(GemmArgs, rowTileBase) == 36 && offsetof(GemmArgs, strideA) == 40
              && offsetof(GemmArgs, batchBase) == 56,
              "GemmArgs field offsets, as GemmPlan.kernelArgs packs them");

// The operands and k-range of this block; C points at the tile's matrix (output or workspace).
template <typename T> struct GemmBlock {
    const T* A;
    const T* B;
    T* C;
    const T* bias; // null: none; always null for a split-K slice (the sum adds it)
    int kBegin, kEnd;
};

template <typename T>
__device__ __forceinline__ GemmBlock<T> gemm_block(const GemmArgs& g, const T* A, const T* B, T* C, const T* bias) {
    int z = blockIdx.z;
    int slice = z % g.splits;
    i64 b = g.batchBase + z / g.splits;
    GemmBlock<T> blk;
    blk.A = A + b * g.strideA;
    blk.B = B + b * g.strideB;
    blk.C = C + (g.splits == 1 ? b : (i64)z) * (i64)g.m * g.n;
    blk.bias = g.splits == 1 ? bias : nullptr;
    blk.kBegin = slice * g.kChunk;
    blk.kEnd = min(g.k, blk.kBegin + g.kChunk);
    return blk;
}

// Element (i, kk) of op(A) and (kk, j) of op(B), zero outside the matrix.
template <typename T> __device__ __forceinline__ T a_at(const GemmArgs& g, const T* A, int i, int kk) {
    if (i >= g.m || kk >= g.k) return T(0);
    return g.transA ? A[(i64)kk * g.lda + i] : A[(i64)i * g.lda + kk];
}
template <typename T> __device__ __forceinline__ T b_at(const GemmArgs& g, const T* B, int kk, int j) {
    if (j >= g.n || kk >= g.k) return T(0);
    return g.transB ? B[(i64)j * g.ldb + kk] : B[(i64)kk * g.ldb + j];
}

// ---- 64 x 64 tiles, any dtype: small products and FLOAT64 --------------------------------------
// 256 threads, 16-deep k slices in shared memory, each thread accumulates a 4 x 4 register block
// at rows ty * 4 + r and columns tx * 4 + c: its four A and four B values of a k step lie side by
// side, so each comes in one 16-byte shared load (two for doubles) and a k step is 16 FMAs per 2
// loads. (Rows ty + 16 r, as before, took 8 scalar loads: the SASS showed 2 FMAs per shared load,
// which bounds the kernel at shared-memory speed.) Within a warp the A reads are 2 addresses
// (broadcast) and the B reads 16 consecutive vectors.

#define TILE 64
#define TK 16
#define GEMM_THREADS 256

template <typename T> __device__ void gemm64_impl(const GemmArgs& g, const T* A, const T* B, T* C, const T* bias) {
    // As rows padded by 16 bytes: rows stay 16-byte aligned for the vector loads, and the
    // transposing stores (a warp writes 16 k-rows x 2 columns) conflict at most 2-way, for
    // floats (row stride 68 words) and doubles (66 doubles, 132 words) alike
    constexpr int pad = 16 / sizeof(T);
    __shared__ __align__(16) T As[TK][TILE + pad];
    __shared__ __align__(16) T Bs[TK][TILE];
    GemmBlock<T> blk = gemm_block(g, A, B, C, bias);
    int tid = threadIdx.x;
    int tx = tid & 15;
    int ty = tid >> 4;
    int row0 = (blockIdx.y + g.rowTileBase) * TILE;
    int col0 = blockIdx.x * TILE;
    T acc[4][4];
#pragma unroll
    for (int r = 0; r < 4; r++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc[r][c] = T(0);

    for (int k0 = blk.kBegin; k0 < blk.kEnd; k0 += TK) {
#pragma unroll
        for (int s = 0; s < (TILE * TK) / GEMM_THREADS; s++) {
            int l = tid + s * GEMM_THREADS;
            int i, kk;
            if (g.transA) { i = l % TILE; kk = l / TILE; } else { i = l / TK; kk = l % TK; }
            As[kk][i] = k0 + kk < blk.kEnd ? a_at(g, blk.A, row0 + i, k0 + kk) : T(0);
            int j;
            if (g.transB) { kk = l % TK; j = l / TK; } else { j = l % TILE; kk = l / TILE; }
            Bs[kk][j] = k0 + kk < blk.kEnd ? b_at(g, blk.B, k0 + kk, col0 + j) : T(0);
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TK; kk++) {
            T a[4], bv[4];
#pragma unroll
            for (int h = 0; h < 4 * (int)sizeof(T) / 16; h++) {
                Pack<T> pa = load_pack(&As[kk][ty * 4], h), pb = load_pack(&Bs[kk][tx * 4], h);
#pragma unroll
                for (int x = 0; x < 16 / (int)sizeof(T); x++) {
                    a[h * 16 / sizeof(T) + x] = pa.v[x];
                    bv[h * 16 / sizeof(T) + x] = pb.v[x];
                }
            }
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int c = 0; c < 4; c++) acc[r][c] += a[r] * bv[c];
        }
        __syncthreads();
    }
    // this thread's 4 columns of the bias, loaded once (adding 0 instead would turn -0.0 into 0.0)
    bool has_bias = blk.bias != nullptr;
    T bias_v[4];
#pragma unroll
    for (int c = 0; c < 4; c++) {
        int gj = col0 + tx * 4 + c;
        bias_v[c] = has_bias && gj < g.n ? blk.bias[gj] : T(0);
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
        int gi = row0 + ty * 4 + r;
        if (gi >= g.m) continue;
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int gj = col0 + tx * 4 + c;
            if (gj < g.n) blk.C[(i64)gi * g.n + gj] = has_bias ? acc[r][c] + bias_v[c] : acc[r][c];
        }
    }
}
extern "C" __global__ void __launch_bounds__(GEMM_THREADS) gemm_f32(GemmArgs g, const float* A, const float* B, float* C,
                                                                   const float* bias) {
    gemm64_impl(g, A, B, C, bias);
}
extern "C" __global__ void __launch_bounds__(GEMM_THREADS) gemm_f64(GemmArgs g, const double* A, const double* B, double* C,
                                                                   const double* bias) {
    gemm64_impl(g, A, B, C, bias);
}

// ---- 128 x 128 tiles, FLOAT32: large products ---------------------------------------------------
// 256 threads as 16 x 16; thread (tx, ty) owns an 8 x 8 block: rows ty*4 + {0..3} and
// 64 + ty*4 + {0..3}, columns likewise from tx. Splitting each thread's rows and columns into two
// groups of four keeps its shared-memory reads 16-byte vectors that a warp reads without bank
// conflicts. k advances 8 at a time through two shared buffers: while the block multiplies out
// of one, each thread holds its share of the next tile in registers (4 + 4 floats, loaded as one
// 16-byte vector per operand when the tile lies inside the matrices and the leading dimension is
// a multiple of 4) and stores it into the other buffer afterwards, so global latency hides
// behind 64 FMAs per k step and one barrier per step suffices.

#define BIG_TILE 128
#define BIG_K 8
#define BIG_PAD 4 // As rows of 132 floats: the transposing stores of 2 k-quads hit distinct banks

struct BigTileRegs {
    float a[4];
    float b[4];
};

// This thread's 4 elements of the A and B tiles at k0. Thread t takes, of op(A)'s 128 x 8 tile,
// (row t/2, k-quad t%2) when A is stored row-major along k, or (k t/32, row-quad t%32) when it is
// stored transposed (contiguous along m); the same for op(B) with rows and columns swapped. Each
// four lie contiguously in memory, so one vector load fetches them when they are in bounds. Written out per layout rather than
// through load4 below: with the shared helper ptxas spilled 32-40 bytes at the 128-register limit.
template <bool TA, bool TB> __device__ __forceinline__ BigTileRegs big_load(const GemmArgs& g, const GemmBlock<float>& blk, int row0, int col0, int k0,
                                                bool vecA, bool vecB) {
    int t = threadIdx.x;
    BigTileRegs r;
    bool kInside = k0 + BIG_K <= blk.kEnd;
    if (!TA) {
        int i = row0 + (t >> 1), kk = k0 + (t & 1) * 4;
        if (vecA && kInside && i < g.m) {
            Pack<float> p = load_pack(blk.A + (i64)i * g.lda + kk, 0);
            #pragma unroll
            for (int x = 0; x < 4; x++) r.a[x] = p.v[x];
        } else {
            #pragma unroll
            for (int x = 0; x < 4; x++) r.a[x] = kk + x < blk.kEnd ? a_at(g, blk.A, i, kk + x) : 0.f;
        }
    } else {
        int kk = k0 + (t >> 5), i = row0 + (t & 31) * 4;
        if (vecA && kk < blk.kEnd && i + 4 <= g.m) {
            Pack<float> p = load_pack(blk.A + (i64)kk * g.lda + i, 0);
            #pragma unroll
            for (int x = 0; x < 4; x++) r.a[x] = p.v[x];
        } else {
            #pragma unroll
            for (int x = 0; x < 4; x++) r.a[x] = kk < blk.kEnd ? a_at(g, blk.A, i + x, kk) : 0.f;
        }
    }
    if (!TB) {
        int kk = k0 + (t >> 5), j = col0 + (t & 31) * 4;
        if (vecB && kk < blk.kEnd && j + 4 <= g.n) {
            Pack<float> p = load_pack(blk.B + (i64)kk * g.ldb + j, 0);
            #pragma unroll
            for (int x = 0; x < 4; x++) r.b[x] = p.v[x];
        } else {
            #pragma unroll
            for (int x = 0; x < 4; x++) r.b[x] = kk < blk.kEnd ? b_at(g, blk.B, kk, j + x) : 0.f;
        }
    } else {
        int j = col0 + (t >> 1), kk = k0 + (t & 1) * 4;
        if (vecB && kInside && j < g.n) {
            Pack<float> p = load_pack(blk.B + (i64)j * g.ldb + kk, 0);
            #pragma unroll
            for (int x = 0; x < 4; x++) r.b[x] = p.v[x];
        } else {
            #pragma unroll
            for (int x = 0; x < 4; x++) r.b[x] = kk + x < blk.kEnd ? b_at(g, blk.B, kk + x, j) : 0.f;
        }
    }
    return r;
}

// Four consecutive elements of a row-major matrix M (leading dimension ld) at (row, col..col+3) into
// dst, zero where row >= rows or a column >= cols: one 16-byte load when vec (M 16-byte aligned,
// ld a multiple of 4, col a multiple of 4) and all four lie inside, element by element otherwise.
__device__ __forceinline__ void load4(float* dst, const float* M, int ld, int row, int rows, int col, int cols, bool vec) {
    const float* at = M + (i64)row * ld + col;
    if (vec && row < rows && col + 4 <= cols) {
        Pack<float> p = load_pack(at, 0);
#pragma unroll
        for (int x = 0; x < 4; x++) dst[x] = p.v[x];
    } else {
#pragma unroll
        for (int x = 0; x < 4; x++) dst[x] = row < rows && col + x < cols ? at[x] : 0.f;
    }
}

// Stores big_load's registers into the k-major shared tiles As[k][row], Bs[k][col].
template <bool TA, bool TB> __device__ __forceinline__ void big_store(const GemmArgs& g, const BigTileRegs& r, float (*As)[BIG_TILE + BIG_PAD],
                                          float (*Bs)[BIG_TILE + BIG_PAD]) {
    int t = threadIdx.x;
    if (!TA) {
        #pragma unroll
        for (int x = 0; x < 4; x++) As[(t & 1) * 4 + x][t >> 1] = r.a[x];
    } else {
        #pragma unroll
        for (int x = 0; x < 4; x++) As[t >> 5][(t & 31) * 4 + x] = r.a[x];
    }
    if (!TB) {
        #pragma unroll
        for (int x = 0; x < 4; x++) Bs[t >> 5][(t & 31) * 4 + x] = r.b[x];
    } else {
        #pragma unroll
        for (int x = 0; x < 4; x++) Bs[(t & 1) * 4 + x][t >> 1] = r.b[x];
    }
}

// As and Bs: the two k-major shared buffers of each operand, declared once in the entry point
// (one allocation for all four instantiations).
template <bool TA, bool TB> __device__ __forceinline__ void gemm128_impl(const GemmArgs& g, const float* A, const float* B, float* C,
                                                                         float (*As)[BIG_K][BIG_TILE + BIG_PAD],
                                                                         float (*Bs)[BIG_K][BIG_TILE + BIG_PAD]) {
    GemmBlock<float> blk = gemm_block(g, A, B, C, (const float*)nullptr);
    int tx = threadIdx.x & 15;
    int ty = threadIdx.x >> 4;
    int row0 = (blockIdx.y + g.rowTileBase) * BIG_TILE;
    int col0 = blockIdx.x * BIG_TILE;
    bool vecA = g.lda % 4 == 0 && aligned16(blk.A);
    bool vecB = g.ldb % 4 == 0 && aligned16(blk.B);
    float acc[8][8];
#pragma unroll
    for (int r = 0; r < 8; r++)
#pragma unroll
        for (int c = 0; c < 8; c++) acc[r][c] = 0.f;

    if (blk.kBegin < blk.kEnd) {
        big_store<TA, TB>(g, big_load<TA, TB>(g, blk, row0, col0, blk.kBegin, vecA, vecB), As[0], Bs[0]);
    }
    __syncthreads();
    int buf = 0;
    for (int k0 = blk.kBegin; k0 < blk.kEnd; k0 += BIG_K) {
        bool more = k0 + BIG_K < blk.kEnd;
        BigTileRegs next;
        if (more) next = big_load<TA, TB>(g, blk, row0, col0, k0 + BIG_K, vecA, vecB);
#pragma unroll
        for (int kk = 0; kk < BIG_K; kk++) {
            Pack<float> a0 = load_pack(&As[buf][kk][ty * 4], 0), a1 = load_pack(&As[buf][kk][64 + ty * 4], 0);
            Pack<float> b0 = load_pack(&Bs[buf][kk][tx * 4], 0), b1 = load_pack(&Bs[buf][kk][64 + tx * 4], 0);
            float a[8], b[8];
#pragma unroll
            for (int x = 0; x < 4; x++) {
                a[x] = a0.v[x]; a[4 + x] = a1.v[x];
                b[x] = b0.v[x]; b[4 + x] = b1.v[x];
            }
#pragma unroll
            for (int r = 0; r < 8; r++)
#pragma unroll
                for (int c = 0; c < 8; c++) acc[r][c] += a[r] * b[c];
        }
        if (more) big_store<TA, TB>(g, next, As[buf ^ 1], Bs[buf ^ 1]);
        __syncthreads();
        buf ^= 1;
    }

    bool vecC = g.n % 4 == 0 && aligned16(blk.C);
#pragma unroll
    for (int r = 0; r < 8; r++) {
        int i = row0 + (r < 4 ? ty * 4 + r : 64 + ty * 4 + r - 4);
        if (i >= g.m) continue;
#pragma unroll
        for (int half = 0; half < 2; half++) {
            int j = col0 + half * 64 + tx * 4;
            float* dst = blk.C + (i64)i * g.n + j;
            if (vecC && j + 4 <= g.n) {
                Pack<float> p;
#pragma unroll
                for (int x = 0; x < 4; x++) p.v[x] = acc[r][half * 4 + x];
                *reinterpret_cast<Pack<float>*>(dst) = p;
            } else {
#pragma unroll
                for (int x = 0; x < 4; x++) {
                    if (j + x < g.n) dst[x] = acc[r][half * 4 + x];
                }
            }
        }
    }
}

// The transpose flags are template parameters so that each layout compiles to straight-line
// loads and stores; one entry point keeps the host side simple.
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 2) gemm128_f32(GemmArgs g, const float* A, const float* B, float* C) {
    __shared__ __align__(16) float As[2][BIG_K][BIG_TILE + BIG_PAD];
    __shared__ __align__(16) float Bs[2][BIG_K][BIG_TILE + BIG_PAD];
    if (g.transA) {
        if (g.transB) gemm128_impl<true, true>(g, A, B, C, As, Bs); else gemm128_impl<true, false>(g, A, B, C, As, Bs);
    } else {
        if (g.transB) gemm128_impl<false, true>(g, A, B, C, As, Bs); else gemm128_impl<false, false>(g, A, B, C, As, Bs);
    }
}

// ---- split-K: C[batchBase + b] = sum over s of W[b * splits + s], slices added in order --------
// (plus bias[column] after the slices, when a bias is given; n: C's columns)
template <typename T>
__device__ void gemm_splitk_sum_impl(const T* W, T* C, i64 mn, int splits, i64 count, i64 batchBase, const T* bias, int n) {
    C += batchBase * mn;
    GRID_STRIDE(t, count) {
        i64 b = t / mn;
        i64 i = t - b * mn;
        const T* w = W + b * splits * mn + i;
        T s = w[0];
        for (int x = 1; x < splits; x++) s += w[(i64)x * mn];
        C[t] = bias ? s + bias[i % n] : s;
    }
}
extern "C" __global__ void gemm_splitk_sum_f32(const float* W, float* C, i64 mn, int splits, i64 count, i64 batchBase,
                                               const float* bias, int n) {
    gemm_splitk_sum_impl(W, C, mn, splits, count, batchBase, bias, n);
}
extern "C" __global__ void gemm_splitk_sum_f64(const double* W, double* C, i64 mn, int splits, i64 count, i64 batchBase,
                                               const double* bias, int n) {
    gemm_splitk_sum_impl(W, C, mn, splits, count, batchBase, bias, n);
}

// ---- TF32 tensor cores, FLOAT32 in and out (opt-in: grad4j.cuda.tf32=true) ----------------------
// Inputs are rounded to TF32 (10 mantissa bits, as cuBLAS and PyTorch do with TF32 allowed) and
// multiplied on the tensor cores with FP32 accumulation, through the portable WMMA API
// (m16n16k8, sm_80 and newer). 128 x 128 block tile, k 16 at a time, 8 warps as 2 x 4, each warp
// a 64 x 32 tile = 4 x 2 accumulator fragments. Operand tiles go through registers into two
// shared buffers as in gemm128_f32; the accumulators leave through a per-warp 16 x 16 scratch
// so that edge tiles and any n are written with bounds checks.

#define TC_K 16
#define TC_A_LD (TC_K + 4)        // As[row][k]: 80-byte rows keep fragment pointers 32-byte aligned
#define TC_B_LD (BIG_TILE + 4)    // Bs[k][col]

struct TensorTileRegs {
    float a[8];
    float b[8];
};

// Thread t fetches quads q = t and t + 256 of each 128 x 16 (A) and 16 x 128 (B) tile.
__device__ __forceinline__ TensorTileRegs tc_load(const GemmArgs& g, const GemmBlock<float>& blk, int row0, int col0, int k0,
                                                  bool vecA, bool vecB) {
    TensorTileRegs r;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        int q = threadIdx.x + h * GEMM_THREADS;
        if (!g.transA) load4(r.a + h * 4, blk.A, g.lda, row0 + (q >> 2), g.m, k0 + (q & 3) * 4, blk.kEnd, vecA);
        else load4(r.a + h * 4, blk.A, g.lda, k0 + (q >> 5), blk.kEnd, row0 + (q & 31) * 4, g.m, vecA);
        if (!g.transB) load4(r.b + h * 4, blk.B, g.ldb, k0 + (q >> 5), blk.kEnd, col0 + (q & 31) * 4, g.n, vecB);
        else load4(r.b + h * 4, blk.B, g.ldb, col0 + (q >> 2), g.n, k0 + (q & 3) * 4, blk.kEnd, vecB);
    }
    return r;
}

__device__ __forceinline__ void tc_store(const GemmArgs& g, const TensorTileRegs& r, float (*As)[TC_A_LD], float (*Bs)[TC_B_LD]) {
#pragma unroll
    for (int h = 0; h < 2; h++) {
        int q = threadIdx.x + h * GEMM_THREADS;
#pragma unroll
        for (int x = 0; x < 4; x++) {
            if (!g.transA) As[q >> 2][(q & 3) * 4 + x] = r.a[h * 4 + x];
            else As[(q & 31) * 4 + x][q >> 5] = r.a[h * 4 + x];
            if (!g.transB) Bs[q >> 5][(q & 31) * 4 + x] = r.b[h * 4 + x];
            else Bs[(q & 3) * 4 + x][q >> 2] = r.b[h * 4 + x];
        }
    }
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 2) gemm_tf32(GemmArgs g, const float* A, const float* B, float* C) {
    using namespace nvcuda;
    __shared__ __align__(128) float As[2][BIG_TILE][TC_A_LD];
    __shared__ __align__(128) float Bs[2][TC_K][TC_B_LD];
    __shared__ __align__(128) float scratch[GEMM_THREADS / 32][16 * 16];
    GemmBlock<float> blk = gemm_block(g, A, B, C, (const float*)nullptr);
    int warp = threadIdx.x >> 5;
    int lane = threadIdx.x & 31;
    int wm = warp >> 2; // 0..1: rows wm * 64
    int wn = warp & 3;  // 0..3: columns wn * 32
    int row0 = (blockIdx.y + g.rowTileBase) * BIG_TILE;
    int col0 = blockIdx.x * BIG_TILE;
    bool vecA = g.lda % 4 == 0 && aligned16(blk.A);
    bool vecB = g.ldb % 4 == 0 && aligned16(blk.B);
    wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[4][2];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);

    if (blk.kBegin < blk.kEnd) {
        tc_store(g, tc_load(g, blk, row0, col0, blk.kBegin, vecA, vecB), As[0], Bs[0]);
    }
    __syncthreads();
    int buf = 0;
    for (int k0 = blk.kBegin; k0 < blk.kEnd; k0 += TC_K) {
        bool more = k0 + TC_K < blk.kEnd;
        TensorTileRegs next;
        if (more) next = tc_load(g, blk, row0, col0, k0 + TC_K, vecA, vecB);
#pragma unroll
        for (int kk = 0; kk < TC_K; kk += 8) {
            wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a[4];
            wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b[2];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                wmma::load_matrix_sync(a[i], &As[buf][wm * 64 + i * 16][kk], TC_A_LD);
#pragma unroll
                for (int e = 0; e < a[i].num_elements; e++) a[i].x[e] = wmma::__float_to_tf32(a[i].x[e]);
            }
#pragma unroll
            for (int j = 0; j < 2; j++) {
                wmma::load_matrix_sync(b[j], &Bs[buf][kk][wn * 32 + j * 16], TC_B_LD);
#pragma unroll
                for (int e = 0; e < b[j].num_elements; e++) b[j].x[e] = wmma::__float_to_tf32(b[j].x[e]);
            }
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
        if (more) tc_store(g, next, As[buf ^ 1], Bs[buf ^ 1]);
        __syncthreads();
        buf ^= 1;
    }

#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 2; j++) {
            wmma::store_matrix_sync(scratch[warp], acc[i][j], 16, wmma::mem_row_major);
            __syncwarp();
            int r0 = row0 + wm * 64 + i * 16;
            int c0 = col0 + wn * 32 + j * 16;
            for (int e = lane; e < 256; e += 32) {
                int r = r0 + (e >> 4), c = c0 + (e & 15);
                if (r < g.m && c < g.n) blk.C[(i64)r * g.n + c] = scratch[warp][e];
            }
            __syncwarp();
        }
    }
}

// =========================================================================== fused cross-entropy
// Rows of logits [rows, classes]; labels arrive in the logits' dtype (exact integers).
// forward:  loss[r] = log(sum exp(x - m)) + m - x[label]          (m = row max)
// backward: out[r,c] = g[r] * (exp(x - m) / sum - [c == label])    (softmax recomputed, not saved)
// Rows of at least CE_SMALL_ROW classes get a warp each; shorter rows (a classifier's logits) a
// thread each, summing in the same order as the cpu backend, so both devices give the same bits
// and training runs agree.
#define CE_SMALL_ROW 64 // = CudaBackend.SMALL_ROW

// A row's max m and its sum s of exp(x - m), by one thread in class order.
template <typename T, typename A> __device__ __forceinline__ void cross_entropy_row_stats(const T* row, int classes, A& m,
                                                                                         A& s) {
    m = neg_inf<A>();
    for (int c = 0; c < classes; c++) m = max_nan(m, (A)row[c]);
    s = A(0);
    for (int c = 0; c < classes; c++) s += exp((A)row[c] - m);
}

// The same by a warp: every lane gets m and s.
template <typename T, typename A> __device__ __forceinline__ void cross_entropy_row_stats_warp(const T* row, int classes,
                                                                                              int lane, A& m, A& s) {
    m = neg_inf<A>();
    for (int c = lane; c < classes; c += 32) m = max_nan(m, (A)row[c]);
    m = __shfl_sync(0xffffffffu, warp_max(m), 0);
    s = A(0);
    for (int c = lane; c < classes; c += 32) s += exp((A)row[c] - m);
    s = __shfl_sync(0xffffffffu, warp_sum(s), 0);
}

template <typename T, typename A> __device__ __forceinline__ T cross_entropy_row_loss(const T* row, int label, A m, A s) {
    return (T)(log(s) + m - (A)row[label]);
}

// Row r's gradient at columns c0, c0 + step, ... scaled by its upstream gradient gr.
template <typename T, typename A>
__device__ __forceinline__ void cross_entropy_row_gradient(const T* row, int label, A m, A s, A gr, T* out, i64 r,
                                                           int classes, int c0, int step) {
    for (int c = c0; c < classes; c += step) {
        A p = exp((A)row[c] - m) / s;
        out[r * (i64)classes + c] = (T)(gr * (p - (c == label ? A(1) : A(0))));
    }
}

// The upstream gradient of row r: g[r], or for the mean's gradient the scalar g[0] times 1/rows,
// rounded to T first as unary_backward(MUL_SCALAR) rounds it in the composed mean.
template <typename T, bool MEAN> __device__ __forceinline__ typename Acc<T>::type row_upstream(const T* g, T scale, i64 r) {
    typedef typename Acc<T>::type A;
    if constexpr (MEAN) {
        T scaled = g[0] * scale;
        return (A)scaled;
    } else {
        return (A)g[r];
    }
}

// One warp per row: the loss (when loss is given) or the gradient (when out is given).
template <typename T, bool MEAN>
__device__ void cross_entropy_impl(const T* x, const T* labels, T* loss, const T* g, T scale, T* out, i64 rows,
                                   int classes) {
    typedef typename Acc<T>::type A;
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 r = warp; r < rows; r += warps) {
        const T* row = x + r * (i64)classes;
        A m, s;
        cross_entropy_row_stats_warp(row, classes, lane, m, s);
        int label = (int)labels[r];
        if (out != nullptr) {
            cross_entropy_row_gradient(row, label, m, s, row_upstream<T, MEAN>(g, scale, r), out, r, classes, lane, 32);
        } else if (lane == 0) {
            loss[r] = cross_entropy_row_loss(row, label, m, s);
        }
    }
}
extern "C" __global__ void cross_entropy_f32(const float* x, const float* labels, float* loss, i64 rows, int classes) {
    cross_entropy_impl<float, false>(x, labels, loss, nullptr, 0.0f, nullptr, rows, classes);
}
extern "C" __global__ void cross_entropy_f64(const double* x, const double* labels, double* loss, i64 rows, int classes) {
    cross_entropy_impl<double, false>(x, labels, loss, nullptr, 0.0, nullptr, rows, classes);
}
extern "C" __global__ void cross_entropy_backward_f32(const float* x, const float* labels, const float* g, float* out,
                                                      i64 rows, int classes) {
    cross_entropy_impl<float, false>(x, labels, nullptr, g, 0.0f, out, rows, classes);
}
extern "C" __global__ void cross_entropy_backward_f64(const double* x, const double* labels, const double* g, double* out,
                                                      i64 rows, int classes) {
    cross_entropy_impl<double, false>(x, labels, nullptr, g, 0.0, out, rows, classes);
}
extern "C" __global__ void cross_entropy_mean_backward_f32(const float* x, const float* labels, const float* g,
                                                           float scale, float* out, i64 rows, int classes) {
    cross_entropy_impl<float, true>(x, labels, nullptr, g, scale, out, rows, classes);
}
extern "C" __global__ void cross_entropy_mean_backward_f64(const double* x, const double* labels, const double* g,
                                                           double scale, double* out, i64 rows, int classes) {
    cross_entropy_impl<double, true>(x, labels, nullptr, g, scale, out, rows, classes);
}

// One thread per row (fewer than CE_SMALL_ROW classes).
template <typename T, bool MEAN>
__device__ void cross_entropy_small_impl(const T* x, const T* labels, T* loss, const T* g, T scale, T* out, i64 rows,
                                         int classes) {
    typedef typename Acc<T>::type A;
    GRID_STRIDE(r, rows) {
        const T* row = x + r * (i64)classes;
        A m, s;
        cross_entropy_row_stats(row, classes, m, s);
        int label = (int)labels[r];
        if (out != nullptr) {
            cross_entropy_row_gradient(row, label, m, s, row_upstream<T, MEAN>(g, scale, r), out, r, classes, 0, 1);
        } else {
            loss[r] = cross_entropy_row_loss(row, label, m, s);
        }
    }
}
extern "C" __global__ void cross_entropy_small_f32(const float* x, const float* labels, float* loss, i64 rows, int classes) {
    cross_entropy_small_impl<float, false>(x, labels, loss, nullptr, 0.0f, nullptr, rows, classes);
}
extern "C" __global__ void cross_entropy_small_f64(const double* x, const double* labels, double* loss, i64 rows, int classes) {
    cross_entropy_small_impl<double, false>(x, labels, loss, nullptr, 0.0, nullptr, rows, classes);
}
extern "C" __global__ void cross_entropy_small_backward_f32(const float* x, const float* labels, const float* g, float* out,
                                                            i64 rows, int classes) {
    cross_entropy_small_impl<float, false>(x, labels, nullptr, g, 0.0f, out, rows, classes);
}
extern "C" __global__ void cross_entropy_small_backward_f64(const double* x, const double* labels, const double* g, double* out,
                                                            i64 rows, int classes) {
    cross_entropy_small_impl<double, false>(x, labels, nullptr, g, 0.0, out, rows, classes);
}
extern "C" __global__ void cross_entropy_small_mean_backward_f32(const float* x, const float* labels, const float* g,
                                                                 float scale, float* out, i64 rows, int classes) {
    cross_entropy_small_impl<float, true>(x, labels, nullptr, g, scale, out, rows, classes);
}
extern "C" __global__ void cross_entropy_small_mean_backward_f64(const double* x, const double* labels, const double* g,
                                                                 double scale, double* out, i64 rows, int classes) {
    cross_entropy_small_impl<double, true>(x, labels, nullptr, g, scale, out, rows, classes);
}

// The mean loss in one launch of one block of CE_MEAN_THREADS threads, bit for bit the composed
// cross_entropy(_small), reduce(SUM) over the rows, unary(MUL_SCALAR, 1/rows): rows go through in
// chunks of CE_MEAN_CHUNK, each row's loss rounded to T into shared memory as the per-row kernel
// writes it, then summed in the order reduce would sum them: below CudaBackend.LONG_ROW rows (one
// chunk) as reduce_rows, lane j over rows j, j + 32, ..., then a warp tree; from LONG_ROW on as
// reduce_rows_block, thread t over rows t, t + 1024, ... (a chunk is a whole number of blocks, so
// a thread's rows stay in that order across chunks), then the block tree. One block is enough for
// the batches the backend sends here (at most 2^13 logits); larger ones take the composition.
// The loops step by blockDim.x, so another block size (a multiple of 32 dividing CE_MEAN_CHUNK)
// still gives the mean, in another order; extra blocks write the same value again.
// __launch_bounds__(1024, 1): with the minimum left out, ptxas 13 held these to 32 registers and
// spilled; one resident block is all a single-block launch needs.
#define CE_MEAN_THREADS 1024 // = reduce_rows_block's block
#define CE_MEAN_CHUNK 4096   // = CudaBackend.LONG_ROW, and a multiple of CE_MEAN_THREADS
template <typename T> __device__ void cross_entropy_mean_impl(const T* x, const T* labels, T* loss, T scale, i64 rows,
                                                              int classes) {
    typedef typename Acc<T>::type A;
    __shared__ T row_loss[CE_MEAN_CHUNK];
    __shared__ A scratch[32];
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    bool one_warp_sums = rows < CE_MEAN_CHUNK;
    A partial = A(0);
    for (i64 first = 0; first < rows; first += CE_MEAN_CHUNK) {
        int n = rows - first < CE_MEAN_CHUNK ? (int)(rows - first) : CE_MEAN_CHUNK;
        if (classes < CE_SMALL_ROW) {
            for (int j = threadIdx.x; j < n; j += blockDim.x) {
                const T* row = x + (first + j) * (i64)classes;
                A m, s;
                cross_entropy_row_stats(row, classes, m, s);
                row_loss[j] = cross_entropy_row_loss(row, (int)labels[first + j], m, s);
            }
        } else {
            for (int j = warp; j < n; j += blockDim.x >> 5) {
                const T* row = x + (first + j) * (i64)classes;
                A m, s;
                cross_entropy_row_stats_warp(row, classes, lane, m, s);
                if (lane == 0) row_loss[j] = cross_entropy_row_loss(row, (int)labels[first + j], m, s);
            }
        }
        __syncthreads();
        if (one_warp_sums) {
            if (warp == 0) {
                for (int j = lane; j < n; j += 32) partial += (A)row_loss[j];
            }
        } else {
            for (int j = threadIdx.x; j < n; j += blockDim.x) partial += (A)row_loss[j];
        }
        __syncthreads(); // the next chunk overwrites row_loss
    }
    if (one_warp_sums) {
        if (warp == 0) {
            A total = warp_sum(partial);
            if (lane == 0) loss[0] = (T)total * scale;
        }
    } else {
        A total = block_reduce<A, false>(partial, scratch);
        if (threadIdx.x == 0) loss[0] = (T)total * scale;
    }
}
extern "C" __global__ void __launch_bounds__(CE_MEAN_THREADS, 1) cross_entropy_mean_f32(const float* x, const float* labels,
                                                                                     float* loss, float scale, i64 rows,
                                                                                     int classes) {
    cross_entropy_mean_impl<float>(x, labels, loss, scale, rows, classes);
}
extern "C" __global__ void __launch_bounds__(CE_MEAN_THREADS, 1) cross_entropy_mean_f64(const double* x, const double* labels,
                                                                                     double* loss, double scale, i64 rows,
                                                                                     int classes) {
    cross_entropy_mean_impl<double>(x, labels, loss, scale, rows, classes);
}
