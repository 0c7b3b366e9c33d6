// grad4j CUDA kernels: the primitives of io.grad4j.backend.Backend, float and double.
//
// Semantics follow the CPU backend (cpu-backend/src/main/java/io/grad4j/cpu) exactly: the
// formulas of UnaryOp, NaN-propagating MAX, the FIRST index equal to the max receives its
// gradient, max-subtracted softmax, log-softmax backward g - exp(y) * sum(g).
// Every reduction is deterministic: no atomics, fixed reduction trees.
//
// Build: cuda-backend/build-kernels.sh (writes the fatbin the backend loads with cuModuleLoadData).
// Operation codes below must match the ordinal() of UnaryOp, BinaryOp and ReduceOp in core.

#include <cstdint>
#include <math_constants.h>

typedef long long i64;

#define MAX_RANK 8

// Shape and strides travel by value as kernel arguments (rank <= 8 after axis collapsing).
struct Dims {
    i64 v[MAX_RANK];
};

// --- UnaryOp ordinals ------------------------------------------------------------------------
enum { U_NEG = 0, U_EXP, U_LOG, U_SQRT, U_ABS, U_TANH, U_SIGMOID, U_RELU, U_POW, U_ADD_SCALAR, U_MUL_SCALAR };
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

// Offset of contiguous index i over shape (rank r) in an operand with element strides s.
__device__ __forceinline__ i64 strided_offset(i64 i, int rank, const Dims& shape, const Dims& s) {
    i64 off = 0;
    for (int ax = rank - 1; ax >= 0; ax--) {
        i64 d = shape.v[ax];
        i64 q = i / d;
        off += (i - q * d) * s.v[ax];
        i = q;
    }
    return off;
}

// =========================================================================== fill and cast

template <typename T> __device__ void fill_impl(T* out, i64 n, T value) {
    GRID_STRIDE(i, n) { out[i] = value; }
}
extern "C" __global__ void fill_f32(float* out, i64 n, float value) { fill_impl(out, n, value); }
extern "C" __global__ void fill_f64(double* out, i64 n, double value) { fill_impl(out, n, value); }

extern "C" __global__ void cast_f2d(const float* src, double* dst, i64 n) {
    GRID_STRIDE(i, n) { dst[i] = (double)src[i]; }
}
extern "C" __global__ void cast_d2f(const double* src, float* dst, i64 n) {
    GRID_STRIDE(i, n) { dst[i] = (float)src[i]; }
}

// =========================================================================== elementwise

template <typename T> __device__ void unary_impl(int op, T p, const T* x, T* out, i64 n) {
    GRID_STRIDE(i, n) { out[i] = unary_apply(op, x[i], p); }
}
extern "C" __global__ void unary_f32(int op, float p, const float* x, float* out, i64 n) { unary_impl(op, p, x, out, n); }
extern "C" __global__ void unary_f64(int op, double p, const double* x, double* out, i64 n) { unary_impl(op, p, x, out, n); }

template <typename T> __device__ void unary_backward_impl(int op, T p, const T* x, const T* y, const T* g, T* out, i64 n) {
    GRID_STRIDE(i, n) {
        T xv = x[i];
        T yv = y[i];
        out[i] = g[i] * unary_derivative(op, xv, yv, p);
    }
}
extern "C" __global__ void unary_backward_f32(int op, float p, const float* x, const float* y, const float* g, float* out, i64 n) {
    unary_backward_impl(op, p, x, y, g, out, n);
}
extern "C" __global__ void unary_backward_f64(int op, double p, const double* x, const double* y, const double* g, double* out, i64 n) {
    unary_backward_impl(op, p, x, y, g, out, n);
}

// y = alpha * x + beta * y in place: optimizer updates in one pass.
template <typename T> __device__ void axpby_impl(T alpha, const T* x, T beta, T* y, i64 n) {
    GRID_STRIDE(i, n) { y[i] = alpha * x[i] + beta * y[i]; }
}
extern "C" __global__ void axpby_f32(float alpha, const float* x, float beta, float* y, i64 n) { axpby_impl(alpha, x, beta, y, n); }
extern "C" __global__ void axpby_f64(double alpha, const double* x, double beta, double* y, i64 n) { axpby_impl(alpha, x, beta, y, n); }

// Both operands contiguous (or one a scalar: stride flag 0 reads element 0). out may alias a.
template <typename T> __device__ void binary_contig_impl(int op, const T* a, int aStep, const T* b, int bStep, T* out, i64 n) {
    GRID_STRIDE(i, n) { out[i] = binary_apply(op, a[i * aStep], b[i * bStep]); }
}
extern "C" __global__ void binary_contig_f32(int op, const float* a, int aStep, const float* b, int bStep, float* out, i64 n) {
    binary_contig_impl(op, a, aStep, b, bStep, out, n);
}
extern "C" __global__ void binary_contig_f64(int op, const double* a, int aStep, const double* b, int bStep, double* out, i64 n) {
    binary_contig_impl(op, a, aStep, b, bStep, out, n);
}

template <typename T> __device__ void binary_strided_impl(int op, const T* a, const T* b, T* out, i64 n, int rank,
                                                          Dims shape, Dims as, Dims bs) {
    GRID_STRIDE(i, n) {
        i64 ao = 0, bo = 0, r = i;
        for (int ax = rank - 1; ax >= 0; ax--) {
            i64 d = shape.v[ax];
            i64 q = r / d;
            i64 idx = r - q * d;
            ao += idx * as.v[ax];
            bo += idx * bs.v[ax];
            r = q;
        }
        out[i] = binary_apply(op, a[ao], b[bo]);
    }
}
extern "C" __global__ void binary_strided_f32(int op, const float* a, const float* b, float* out, i64 n, int rank,
                                              Dims shape, Dims as, Dims bs) {
    binary_strided_impl(op, a, b, out, n, rank, shape, as, bs);
}
extern "C" __global__ void binary_strided_f64(int op, const double* a, const double* b, double* out, i64 n, int rank,
                                              Dims shape, Dims as, Dims bs) {
    binary_strided_impl(op, a, b, out, n, rank, shape, as, bs);
}

template <typename T> __device__ void strided_copy_impl(const T* src, T* dst, i64 n, int rank, Dims shape, Dims s) {
    GRID_STRIDE(i, n) { dst[i] = src[strided_offset(i, rank, shape, s)]; }
}
extern "C" __global__ void strided_copy_f32(const float* src, float* dst, i64 n, int rank, Dims shape, Dims s) {
    strided_copy_impl(src, dst, n, rank, shape, s);
}
extern "C" __global__ void strided_copy_f64(const double* src, double* dst, i64 n, int rank, Dims shape, Dims s) {
    strided_copy_impl(src, dst, n, rank, shape, s);
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
// 64 x 64 output tile per block of 256 threads, 16-deep k slices in shared memory, each thread
// accumulates a 4 x 4 register block at rows ty + 16 r and columns tx + 16 c (conflict-free
// shared reads). blockIdx.z = batch index - batchBase.

#define TILE 64
#define TK 16
#define GEMM_THREADS 256

template <typename T> __device__ void gemm_impl(int transA, int transB, int m, int n, int k,
                                                const T* A, int lda, i64 strideA,
                                                const T* B, int ldb, i64 strideB,
                                                T* C, i64 batchBase) {
    __shared__ T As[TK][TILE + 1];
    __shared__ T Bs[TK][TILE];
    i64 b = batchBase + blockIdx.z;
    A += b * strideA;
    B += b * strideB;
    C += b * (i64)m * n;
    int tid = threadIdx.x;
    int tx = tid & 15;
    int ty = tid >> 4;
    int row0 = blockIdx.y * TILE;
    int col0 = blockIdx.x * TILE;
    T acc[4][4];
#pragma unroll
    for (int r = 0; r < 4; r++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc[r][c] = T(0);

    for (int k0 = 0; k0 < k; k0 += TK) {
#pragma unroll
        for (int s = 0; s < (TILE * TK) / GEMM_THREADS; s++) {
            int l = tid + s * GEMM_THREADS;
            int i, kk;
            if (transA) { i = l % TILE; kk = l / TILE; } else { i = l / TK; kk = l % TK; }
            int gi = row0 + i, gk = k0 + kk;
            T v = T(0);
            if (gi < m && gk < k) v = transA ? A[(i64)gk * lda + gi] : A[(i64)gi * lda + gk];
            As[kk][i] = v;
            int j;
            if (transB) { kk = l % TK; j = l / TK; } else { j = l % TILE; kk = l / TILE; }
            int gj = col0 + j;
            gk = k0 + kk;
            T w = T(0);
            if (gj < n && gk < k) w = transB ? B[(i64)gj * ldb + gk] : B[(i64)gk * ldb + gj];
            Bs[kk][j] = w;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TK; kk++) {
            T a[4], bv[4];
#pragma unroll
            for (int r = 0; r < 4; r++) a[r] = As[kk][ty + 16 * r];
#pragma unroll
            for (int c = 0; c < 4; c++) bv[c] = Bs[kk][tx + 16 * c];
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int c = 0; c < 4; c++) acc[r][c] += a[r] * bv[c];
        }
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
        int gi = row0 + ty + 16 * r;
        if (gi >= m) continue;
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int gj = col0 + tx + 16 * c;
            if (gj < n) C[(i64)gi * n + gj] = acc[r][c];
        }
    }
}
extern "C" __global__ void __launch_bounds__(GEMM_THREADS) gemm_f32(int transA, int transB, int m, int n, int k,
                                                                     const float* A, int lda, i64 strideA,
                                                                     const float* B, int ldb, i64 strideB,
                                                                     float* C, i64 batchBase) {
    gemm_impl(transA, transB, m, n, k, A, lda, strideA, B, ldb, strideB, C, batchBase);
}
extern "C" __global__ void __launch_bounds__(GEMM_THREADS) gemm_f64(int transA, int transB, int m, int n, int k,
                                                                     const double* A, int lda, i64 strideA,
                                                                     const double* B, int ldb, i64 strideB,
                                                                     double* C, i64 batchBase) {
    gemm_impl(transA, transB, m, n, k, A, lda, strideA, B, ldb, strideB, C, batchBase);
}

// =========================================================================== fused cross-entropy
// One warp per row of logits [rows, classes]; labels arrive in the logits' dtype (exact integers).
// forward:  loss[r] = log(sum exp(x - m)) + m - x[label]          (m = row max)
// backward: out[r,c] = g[r] * (exp(x - m) / sum - [c == label])    (softmax recomputed, not saved)

template <typename T> __device__ void cross_entropy_impl(const T* x, const T* labels, T* loss, const T* g, T* out,
                                                         i64 rows, int classes) {
    typedef typename Acc<T>::type A;
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 r = warp; r < rows; r += warps) {
        const T* row = x + r * (i64)classes;
        A m = neg_inf<A>();
        for (int c = lane; c < classes; c += 32) m = max_nan(m, (A)row[c]);
        m = __shfl_sync(0xffffffffu, warp_max(m), 0);
        A s = A(0);
        for (int c = lane; c < classes; c += 32) s += exp((A)row[c] - m);
        s = __shfl_sync(0xffffffffu, warp_sum(s), 0);
        int label = (int)labels[r];
        if (loss != nullptr) {
            if (lane == 0) loss[r] = (T)(log(s) + m - (A)row[label]);
        } else {
            A gr = (A)g[r];
            for (int c = lane; c < classes; c += 32) {
                A p = exp((A)row[c] - m) / s;
                out[r * (i64)classes + c] = (T)(gr * (p - (c == label ? A(1) : A(0))));
            }
        }
    }
}
extern "C" __global__ void cross_entropy_f32(const float* x, const float* labels, float* loss, i64 rows, int classes) {
    cross_entropy_impl<float>(x, labels, loss, nullptr, nullptr, rows, classes);
}
extern "C" __global__ void cross_entropy_f64(const double* x, const double* labels, double* loss, i64 rows, int classes) {
    cross_entropy_impl<double>(x, labels, loss, nullptr, nullptr, rows, classes);
}
extern "C" __global__ void cross_entropy_backward_f32(const float* x, const float* labels, const float* g, float* out,
                                                      i64 rows, int classes) {
    cross_entropy_impl<float>(x, labels, nullptr, g, out, rows, classes);
}
extern "C" __global__ void cross_entropy_backward_f64(const double* x, const double* labels, const double* g, double* out,
                                                      i64 rows, int classes) {
    cross_entropy_impl<double>(x, labels, nullptr, g, out, rows, classes);
}

// Rows of fewer than 64 classes (a classifier's logits): one thread per row, summing in the same
// order as the cpu backend, so both devices give the same bits and training runs agree.
template <typename T> __device__ void cross_entropy_small_impl(const T* x, const T* labels, T* loss, const T* g, T* out,
                                                               i64 rows, int classes) {
    typedef typename Acc<T>::type A;
    GRID_STRIDE(r, rows) {
        const T* row = x + r * (i64)classes;
        A m = neg_inf<A>();
        for (int c = 0; c < classes; c++) m = max_nan(m, (A)row[c]);
        A s = A(0);
        for (int c = 0; c < classes; c++) s += exp((A)row[c] - m);
        int label = (int)labels[r];
        if (loss != nullptr) {
            loss[r] = (T)(log(s) + m - (A)row[label]);
        } else {
            A gr = (A)g[r];
            for (int c = 0; c < classes; c++) {
                A p = exp((A)row[c] - m) / s;
                out[r * (i64)classes + c] = (T)(gr * (p - (c == label ? A(1) : A(0))));
            }
        }
    }
}
extern "C" __global__ void cross_entropy_small_f32(const float* x, const float* labels, float* loss, i64 rows, int classes) {
    cross_entropy_small_impl<float>(x, labels, loss, nullptr, nullptr, rows, classes);
}
extern "C" __global__ void cross_entropy_small_f64(const double* x, const double* labels, double* loss, i64 rows, int classes) {
    cross_entropy_small_impl<double>(x, labels, loss, nullptr, nullptr, rows, classes);
}
extern "C" __global__ void cross_entropy_small_backward_f32(const float* x, const float* labels, const float* g, float* out,
                                                            i64 rows, int classes) {
    cross_entropy_small_impl<float>(x, labels, nullptr, g, out, rows, classes);
}
extern "C" __global__ void cross_entropy_small_backward_f64(const double* x, const double* labels, const double* g, double* out,
                                                            i64 rows, int classes) {
    cross_entropy_small_impl<double>(x, labels, nullptr, g, out, rows, classes);
}
