// The CUDA vocabulary for g++, so grad4j_kernels.cu compiles and runs on the CPU with real CUDA
// thread semantics: every thread of a block is a fiber, __syncthreads() is a barrier over the
// block, warp shuffles and ballots exchange values between the 32 lanes of a warp. Blocks of a
// grid run one after another (emulated_threads.h), so a function-local static is exactly one
// block's shared memory.
//
// Include this before the kernel file; it defines GRAD4J_HOST_EMULATION so the kernel file can
// keep inline PTX (which g++ cannot compile) behind #ifndef GRAD4J_HOST_EMULATION.
#pragma once

#define GRAD4J_HOST_EMULATION 1

#include <cmath>
#include <cstdint>
#include <cstring>
#include <math.h>

#include "emulated_threads.h"

// --- qualifiers --------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// g++ knows __restrict__ itself.
// Blocks run one at a time and all threads of a block share the process, so a static is
// per-block shared memory. Dynamic shared memory (extern __shared__ T s[]) is not emulated.
#define __shared__ static

// --- thread coordinates ------------------------------------------------------------------------
// uint3, dim3, threadIdx, blockIdx, blockDim, gridDim and warpSize come from emulated_threads.h.

// --- vector types, with CUDA's alignment (a misaligned vector access faults on the GPU; here
// -fsanitize=alignment reports it) --------------------------------------------------------------
struct __align__(8) float2 { float x, y; };
struct float3 { float x, y, z; };
struct __align__(16) float4 { float x, y, z, w; };
struct __align__(16) double2 { double x, y; };
struct __align__(8) int2 { int x, y; };
struct __align__(16) int4 { int x, y, z, w; };

inline float2 make_float2(float x, float y) { return {x, y}; }
inline float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

// Read-only cache load: on the CPU an ordinary load (typed, so the alignment check applies).
template <typename T> inline T __ldg(const T* p) { return *p; }

// --- warp collectives and barriers (emulated_threads.h does the exchange) ----------------------
// Each collective records where it was called (a defaulted std::source_location), so threads
// meeting at different calls are reported.
using grad4j_source_location = std::source_location;

inline void __syncthreads(grad4j_source_location where = grad4j_source_location::current()) {
    grad4j_emulation::sync_block(where);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, grad4j_source_location where = grad4j_source_location::current()) {
    grad4j_emulation::sync_warp(mask, where);
}
inline unsigned __activemask() { return 0xffffffffu; }

template <typename T> inline T __shfl_sync(unsigned mask, T v, int srcLane, int width = 32,
                                grad4j_source_location where = grad4j_source_location::current()) {
    return grad4j_emulation::shuffle(mask, "__shfl_sync", where, v, [=](int lane) {
        return (lane & ~(width - 1)) + (srcLane & (width - 1));
    });
}
template <typename T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32,
                                     grad4j_source_location where = grad4j_source_location::current()) {
    return grad4j_emulation::shuffle(mask, "__shfl_down_sync", where, v, [=](int lane) {
        int inSegment = (lane & (width - 1)) + (int)delta;
        return inSegment < width ? lane + (int)delta : lane; // past the segment: keeps its own value
    });
}
template <typename T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32,
                                   grad4j_source_location where = grad4j_source_location::current()) {
    return grad4j_emulation::shuffle(mask, "__shfl_up_sync", where, v, [=](int lane) {
        return (lane & (width - 1)) >= (int)delta ? lane - (int)delta : lane;
    });
}
template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32,
                                    grad4j_source_location where = grad4j_source_location::current()) {
    return grad4j_emulation::shuffle(mask, "__shfl_xor_sync", where, v, [=](int lane) {
        int src = lane ^ laneMask;
        return (src & ~(width - 1)) > (lane & ~(width - 1)) ? lane : src; // a later segment: own value
    });
}
inline unsigned __ballot_sync(unsigned mask, int predicate, grad4j_source_location where = grad4j_source_location::current()) {
    return grad4j_emulation::ballot(mask, "__ballot_sync", where, predicate != 0);
}
inline int __any_sync(unsigned mask, int predicate, grad4j_source_location where = grad4j_source_location::current()) {
    return grad4j_emulation::ballot(mask, "__any_sync", where, predicate != 0) != 0;
}
inline int __all_sync(unsigned mask, int predicate, grad4j_source_location where = grad4j_source_location::current()) {
    return grad4j_emulation::ballot(mask, "__all_sync", where, predicate != 0) == 0xffffffffu;
}

// --- integer intrinsics ------------------------------------------------------------------------
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 32; i++) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}

// --- bit casts ---------------------------------------------------------------------------------
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }

// --- correctly rounded arithmetic: the intrinsics nvcc never contracts into an FMA. On x86-64
// (SSE, and -ffp-contract=off) every plain operation is already one IEEE operation. --------------
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }   // IEEE sqrt is correctly rounded
inline double __dsqrt_rn(double a) { return std::sqrt(a); }

// --- math: expf, logf, tanhf, exp, log, ... come from <math.h>. The fast-math intrinsics map to
// the accurate functions (the GPU's are less accurate; tests must allow for that anyway). --------
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __saturatef(float x) { return x != x ? 0.0f : fminf(fmaxf(x, 0.0f), 1.0f); }

// --- min and max as CUDA overloads them for device code ----------------------------------------
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
