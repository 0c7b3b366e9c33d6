// Stand-in for CUDA's mma.h: the part of nvcuda::wmma a TF32 (or FP64) tensor-core GEMM uses.
//
// On the GPU a fragment's tile is spread over the 32 lanes in an unspecified layout, so code may
// only apply the same element-wise operation to every x[i] (scaling, __float_to_tf32). Here every
// lane holds the WHOLE tile, row-major, which keeps exactly those operations correct while making
// any use of a lane-specific layout wrong (its results then fail the tests). load_matrix_sync,
// store_matrix_sync and mma_sync are warp-collective: each ends with a barrier over the warp, and
// only lane 0 writes the stored tile. Pointers and leading dimensions must meet the GPU's
// alignment rules (checked).
//
// mma_sync reads TF32 inputs as the tensor cores do, keeping only the top 10 mantissa bits
// (truncation; round with __float_to_tf32 first for round-to-nearest). Products of TF32 values are
// exact in float; they are accumulated in float, in k order, onto c.
#pragma once

#include <cstdint>
#include <cstring>
#include <source_location>
#include <type_traits>

#include "emulated_threads.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
} // namespace precision
enum layout_t { mem_row_major, mem_col_major };

namespace detail {
template <typename T> struct Storage { using type = T; };
template <> struct Storage<precision::tf32> { using type = float; };

template <typename Use, int M, int N, int K> struct TileShape;
template <int M, int N, int K> struct TileShape<matrix_a, M, N, K> { static constexpr int rows = M, cols = K; };
template <int M, int N, int K> struct TileShape<matrix_b, M, N, K> { static constexpr int rows = K, cols = N; };
template <int M, int N, int K> struct TileShape<accumulator, M, N, K> { static constexpr int rows = M, cols = N; };

inline unsigned bits_of(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float float_of(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }

// The GPU's rules for the memory a fragment moves: a 256-bit aligned pointer and a leading
// dimension that is a multiple of 16 bytes. Shared tiles need __align__(32) to satisfy the first.
template <typename E> void require_fragment_memory(const char* op, const E* p, unsigned ldm) {
    if (reinterpret_cast<std::uintptr_t>(p) % 32 != 0) {
        grad4j_emulation::fail("%s: pointer %p is not 256-bit (32-byte) aligned, as the GPU requires", op,
                               (const void*)p);
    }
    if ((ldm * sizeof(E)) % 16 != 0) {
        grad4j_emulation::fail("%s: ldm %u is not a multiple of 16 bytes, as the GPU requires", op, ldm);
    }
}

// What a tensor core reads of an operand element.
template <typename T, typename V> inline V as_tensor_core_input(V v) { return v; }
template <> inline float as_tensor_core_input<precision::tf32, float>(float v) {
    unsigned u = bits_of(v);
    if ((u & 0x7f800000u) == 0x7f800000u) return v; // infinities and NaN pass unchanged
    return float_of(u & 0xffffe000u);
}
} // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout = void> class fragment {
public:
    using element_type = typename detail::Storage<T>::type;
    static constexpr int rows = detail::TileShape<Use, M, N, K>::rows;
    static constexpr int cols = detail::TileShape<Use, M, N, K>::cols;
    static constexpr int num_elements = rows * cols;
    element_type x[num_elements]; // element (r, c) of the tile at x[r * cols + c], in every lane
};

// Round to nearest, ties away from zero, to TF32's 10 mantissa bits (cvt.rna.tf32.f32); the
// result is a float whose low 13 mantissa bits are zero.
inline float __float_to_tf32(float in) {
    unsigned u = detail::bits_of(in);
    if ((u & 0x7f800000u) == 0x7f800000u) return in;
    return detail::float_of((u + 0x1000u) & 0xffffe000u); // adding half of the dropped bits to the magnitude
}

template <typename Use, int M, int N, int K, typename T, typename Layout, typename V>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const V& value) {
    for (int i = 0; i < f.num_elements; i++) f.x[i] = (typename fragment<Use, M, N, K, T, Layout>::element_type)value;
}

// matrix_a / matrix_b: the layout is part of the fragment type.
template <typename Use, int M, int N, int K, typename T, typename Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f,
                      const typename fragment<Use, M, N, K, T, Layout>::element_type* p, unsigned ldm,
                      std::source_location where = std::source_location::current()) {
    static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>,
                  "matrix_a and matrix_b fragments name row_major or col_major");
    using F = fragment<Use, M, N, K, T, Layout>;
    detail::require_fragment_memory("wmma::load_matrix_sync", p, ldm);
    for (int r = 0; r < F::rows; r++)
        for (int c = 0; c < F::cols; c++)
            f.x[r * F::cols + c] = std::is_same_v<Layout, row_major> ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r];
    grad4j_emulation::warp_collective_done("wmma::load_matrix_sync", where);
}

// accumulator: the layout is an argument.
template <int M, int N, int K, typename T>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned ldm, layout_t layout,
                      std::source_location where = std::source_location::current()) {
    using F = fragment<accumulator, M, N, K, T>;
    detail::require_fragment_memory("wmma::load_matrix_sync", p, ldm);
    for (int r = 0; r < F::rows; r++)
        for (int c = 0; c < F::cols; c++)
            f.x[r * F::cols + c] = layout == mem_row_major ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r];
    grad4j_emulation::warp_collective_done("wmma::load_matrix_sync", where);
}

template <int M, int N, int K, typename T>
void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout,
                       std::source_location where = std::source_location::current()) {
    using F = fragment<accumulator, M, N, K, T>;
    detail::require_fragment_memory("wmma::store_matrix_sync", p, ldm);
    if (grad4j_emulation::lane_id() == 0) { // every lane holds the same tile; one writer is enough
        for (int r = 0; r < F::rows; r++)
            for (int c = 0; c < F::cols; c++) {
                T v = f.x[r * F::cols + c];
                if (layout == mem_row_major) p[(size_t)r * ldm + c] = v;
                else p[(size_t)c * ldm + r] = v;
            }
    }
    grad4j_emulation::warp_collective_done("wmma::store_matrix_sync", where);
}

// d = a * b + c; d may be c.
template <int M, int N, int K, typename TAB, typename LA, typename LB, typename TC>
void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TAB, LA>& a,
              const fragment<matrix_b, M, N, K, TAB, LB>& b, const fragment<accumulator, M, N, K, TC>& c,
              bool satf = false, std::source_location where = std::source_location::current()) {
    (void)satf;
    using Acc = typename fragment<accumulator, M, N, K, TC>::element_type;
    Acc result[M * N];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            Acc sum = c.x[i * N + j];
            for (int kk = 0; kk < K; kk++) {
                sum += (Acc)detail::as_tensor_core_input<TAB>(a.x[i * K + kk]) *
                       (Acc)detail::as_tensor_core_input<TAB>(b.x[kk * N + j]);
            }
            result[i * N + j] = sum;
        }
    for (int i = 0; i < M * N; i++) d.x[i] = result[i];
    grad4j_emulation::warp_collective_done("wmma::mma_sync", where);
}

} // namespace wmma
} // namespace nvcuda
