// Runs every kernel of grad4j_kernels.cu on the CPU (emulation/cuda_emulation.h) and checks it
// against straightforward reference loops written from the kernels' documented semantics and the
// cpu backend (UnaryOp, BinaryOp, ReduceOp in core; Reductions in cpu-backend).
//
// Each case runs under several launch shapes: the grid and block CudaBackend uses, and deliberately
// small grids so grid-stride loops wrap. Every run gets fresh guarded buffers (see
// emulation/guarded_buffer.h) and must: match the reference, leave its inputs unchanged, write
// nothing outside its output, write every output element, and give the same bits under every shape.
//
// Build and run from the repository root (KernelEmulationTest does this in mvn verify), one line:
//   g++ -std=c++20 -O1 -pthread -fno-strict-aliasing -ffp-contract=off -fsanitize=bounds,alignment
//       -fno-sanitize-recover=all -Icuda-backend/src/test/cuda/emulation
//       cuda-backend/src/test/cuda/kernel_emulation_test.cpp -o kernel_emulation_test
//   ./kernel_emulation_test     (exit status 0: all passed; 1: a check failed; 3: emulation error)
//
// Adding a kernel: write test_<family><T>() below with a table of cases, a reference loop and one
// check(...) call per case, and call it from test_all (which main runs for float and double).

#include "cuda_emulation.h"
#include <mma.h>

#include "../../main/cuda/grad4j_kernels.cu"

#include "guarded_buffer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

// Sanitizer findings (a misaligned vector load, an index outside a __shared__ array) abort, so the
// crash reporter can name the case that was running.
extern "C" const char* __ubsan_default_options() { return "abort_on_error=1:print_stacktrace=1"; }

namespace {

using grad4j_emulation::GuardedBuffer;

// ============================================================================ summary

struct Summary {
    std::set<std::string> kernels;     // of grad4j_kernels.cu
    std::set<std::string> self_checks; // of the emulation itself
    int cases = 0;
    int launches = 0;
    int failures = 0;
    int printed = 0;
};
Summary summary;
constexpr int kMaxPrintedFailures = 60;
constexpr int kMaxMismatchesPerRun = 3;

void report_failure(const std::string& line) {
    summary.failures++;
    if (summary.printed++ < kMaxPrintedFailures) std::printf("FAIL %s\n", line.c_str());
}

// ============================================================================ dtypes and kernels

template <typename T> constexpr bool kSingle = std::is_same_v<T, float>;
template <typename T> const char* suffix() { return kSingle<T> ? "_f32" : "_f64"; }
template <typename T> const char* dtype_name() { return kSingle<T> ? "f32" : "f64"; }

template <typename F> struct Kernel {
    F fn;
    std::string name;
};
// The float or double kernel of a family, with its name: KERNEL(T, unary) is unary_f32 or unary_f64.
template <typename T, typename F32, typename F64> auto pick(F32 f32, F64 f64, const char* base) {
    if constexpr (kSingle<T>) return Kernel<F32>{f32, std::string(base) + "_f32"};
    else return Kernel<F64>{f64, std::string(base) + "_f64"};
}
#define KERNEL(T, base) pick<T>(base##_f32, base##_f64, #base)

Dims dims_of(const std::vector<i64>& v) {
    Dims d{};
    for (size_t i = 0; i < v.size(); i++) d.v[i] = v[i];
    return d;
}

// ============================================================================ inputs

std::mt19937_64 rng(20240611);

template <typename T> std::vector<T> uniform(size_t n, double lo, double hi) {
    std::uniform_real_distribution<double> d(lo, hi);
    std::vector<T> v(n);
    for (T& x : v) x = (T)d(rng);
    return v;
}

// Small integers: many exact ties, for max and its gradient.
template <typename T> std::vector<T> small_integers(size_t n, int distinct) {
    std::uniform_int_distribution<int> d(0, distinct - 1);
    std::vector<T> v(n);
    for (T& x : v) x = (T)d(rng);
    return v;
}

template <typename T> constexpr T kNaN = std::numeric_limits<T>::quiet_NaN();
template <typename T> constexpr T kInf = std::numeric_limits<T>::infinity();

// Values every elementwise function must get right, spread over the buffer (the first few at the
// start, where a vectorised loop's scalar prologue runs, the rest at fixed strides).
template <typename T> std::vector<T> with_specials(std::vector<T> v) {
    const T specials[] = {T(0), -T(0), T(1), T(-1), kNaN<T>, kInf<T>, -kInf<T>, T(0.5), T(1e-30),
                          std::numeric_limits<T>::denorm_min(), T(80), T(-80), T(1e30), T(2)};
    size_t count = sizeof specials / sizeof specials[0];
    for (size_t i = 0; i < count && i < v.size(); i++) v[(i * 37) % v.size()] = specials[i];
    return v;
}

// ============================================================================ comparison

struct Tolerance {
    enum class Kind { Exact, Ulps, Relative } kind;
    double amount;
    std::string describe() const {
        char s[64];
        if (kind == Kind::Exact) return "exact";
        if (kind == Kind::Ulps) std::snprintf(s, sizeof s, "%g ulps", amount);
        else std::snprintf(s, sizeof s, "relative %g", amount);
        return s;
    }
};
constexpr Tolerance kExact{Tolerance::Kind::Exact, 0};
constexpr Tolerance ulps(double n) { return {Tolerance::Kind::Ulps, n}; }
constexpr Tolerance relative(double r) { return {Tolerance::Kind::Relative, r}; }
// Transcendental functions: the GPU's expf, tanhf, powf are within 2 ulps, CUDA's double ones
// within 1-2; a formula around them (sigmoid) adds a few roundings.
constexpr Tolerance kTranscendental = ulps(4);
// Reductions, softmax and GEMM sum in another order than the references.
template <typename T> constexpr Tolerance kSummed = relative(kSingle<T> ? 1e-5 : 1e-12);
// GEMM: float products accumulate in float. TF32 inputs (10 mantissa bits) would need about 1e-3.
template <typename T> constexpr Tolerance kGemm = relative(kSingle<T> ? 1e-5 : 1e-12);

struct Expected {
    std::vector<double> values;
    Tolerance tolerance;
    // Relative: an element may be off by amount * max(|expected|, scale[i]), e.g. the sum of the
    // magnitudes of what was added up. Empty: |expected| alone.
    std::vector<double> scale;
};

template <typename T> std::vector<double> widen(const std::vector<T>& v) { return std::vector<double>(v.begin(), v.end()); }

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

double ulp_of(double x, bool single) {
    if (single) {
        float f = std::fabs((float)x);
        return (double)std::nextafter(f, std::numeric_limits<float>::infinity()) - f;
    }
    double d = std::fabs(x);
    return std::nextafter(d, std::numeric_limits<double>::infinity()) - d;
}

bool within(double got, double expected, bool single, const Tolerance& t, double scale) {
    if (std::isnan(expected)) return std::isnan(got);
    if (std::isnan(got)) return false;
    if (std::isinf(expected) || std::isinf(got) || t.kind == Tolerance::Kind::Exact) return same_bits(got, expected);
    double error = std::fabs(got - expected);
    if (t.kind == Tolerance::Kind::Ulps) return error <= t.amount * ulp_of(expected, single);
    return error <= t.amount * std::max(std::fabs(expected), scale);
}

// What a kernel wrote to one output buffer, widened to double (exact for float).
struct Output {
    std::string name;
    bool single = false;
    std::vector<double> values;
    std::vector<char> never_written; // still the poison pattern
    std::vector<char> from_guard;    // the canary pattern: copied from outside an input buffer
};

std::string format_value(double v, bool single) {
    char s[40];
    std::snprintf(s, sizeof s, single ? "%.9g" : "%.17g", v);
    return s;
}

// ============================================================================ buffers of one launch

class Buffers {
public:
    // Uploaded; must still hold the same bits after the launch.
    template <typename T> T* input(const char* name, const std::vector<T>& values, size_t offset = 0) {
        return add<T>(name, values, values.size(), offset, Role::Input);
    }
    // Starts as poison; compared with the expected values.
    template <typename T> T* output(const char* name, size_t n, size_t offset = 0) {
        return add<T>(name, {}, n, offset, Role::Output);
    }
    // Uploaded, updated in place, compared (axpby's y, a binary op writing over its first operand).
    template <typename T> T* in_out(const char* name, const std::vector<T>& values, size_t offset = 0) {
        return add<T>(name, values, values.size(), offset, Role::InOut);
    }

    void collect(std::vector<std::string>& problems, std::vector<Output>& outputs) const {
        for (const auto& e : entries_) e->collect(problems, outputs);
    }

private:
    enum class Role { Input, Output, InOut };
    struct Entry {
        virtual ~Entry() = default;
        virtual void collect(std::vector<std::string>& problems, std::vector<Output>& outputs) const = 0;
    };
    template <typename T> struct Typed : Entry {
        Typed(const char* name_, const std::vector<T>& values, size_t n, size_t offset, Role role_)
            : name(name_), role(role_), original(values), buffer(n, offset) {
            if (role != Role::Output) buffer.upload(values);
        }
        void collect(std::vector<std::string>& problems, std::vector<Output>& outputs) const override {
            std::string damage = buffer.guard_damage();
            if (!damage.empty()) problems.push_back(name + ": " + damage);
            std::vector<T> now = buffer.download();
            if (role == Role::Input) {
                for (size_t i = 0; i < now.size(); i++) {
                    if (std::memcmp(&now[i], &original[i], sizeof(T)) != 0) {
                        problems.push_back("input " + name + " was modified at [" + std::to_string(i) + "]");
                        break;
                    }
                }
                return;
            }
            Output out;
            out.name = name;
            out.single = kSingle<T>;
            for (T v : now) {
                out.values.push_back((double)v);
                out.never_written.push_back(grad4j_emulation::is_poison(v));
                out.from_guard.push_back(grad4j_emulation::has_bits(v, grad4j_emulation::NanPatterns<T>::canary));
            }
            outputs.push_back(std::move(out));
        }
        std::string name;
        Role role;
        std::vector<T> original;
        GuardedBuffer<T> buffer;
    };

    template <typename T> T* add(const char* name, const std::vector<T>& values, size_t n, size_t offset, Role role) {
        auto entry = std::make_unique<Typed<T>>(name, values, n, offset, role);
        T* data = entry->buffer.data();
        entries_.push_back(std::move(entry));
        return data;
    }

    std::vector<std::unique_ptr<Entry>> entries_;
};

// ============================================================================ launch shapes

struct LaunchShape {
    dim3 grid;
    dim3 block;
    const char* why;
    std::string describe() const {
        char s[96];
        std::snprintf(s, sizeof s, "<<<(%u,%u,%u),%u>>> %s", grid.x, grid.y, grid.z, block.x, why);
        return s;
    }
};

constexpr unsigned kThreads = 256;          // CudaBackend.THREADS
constexpr i64 kMaxBlocks = 1 << 16;         // CudaBackend.MAX_BLOCKS
constexpr unsigned kLongRowThreads = 1024;  // CudaBackend.reduce: reduce_rows_block

unsigned capped(i64 blocks) { return (unsigned)std::max<i64>(1, std::min(kMaxBlocks, blocks)); }

// The backend's shape first, then small grids (1 and `few` blocks) that make grid-stride loops
// wrap; a small grid equal to the backend's is not run twice.
std::vector<LaunchShape> with_small_grids(LaunchShape backend, unsigned few) {
    std::vector<LaunchShape> shapes{backend};
    for (unsigned g : {1u, few}) {
        if (g < backend.grid.x) shapes.push_back({dim3(g), backend.block, g == 1 ? "1 block" : "few blocks"});
    }
    return shapes;
}
// CudaBackend.launch1d: one thread per element (or row), 256-thread blocks.
std::vector<LaunchShape> per_element(i64 n) {
    return with_small_grids({dim3(capped((n + kThreads - 1) / kThreads)), dim3(kThreads), "as launch1d"}, 3);
}
// CudaBackend.launchWarps: one warp per row, 8 rows per block.
std::vector<LaunchShape> per_warp(i64 rows) {
    return with_small_grids({dim3(capped((rows + 7) / 8)), dim3(kThreads), "as launchWarps"}, 2);
}
// CudaBackend.launchBlocks (256 threads) and reduce_rows_block (1024 threads): one block per row.
std::vector<LaunchShape> per_block(i64 rows, unsigned threads) {
    return with_small_grids({dim3(capped(rows)), dim3(threads), "one block per row"}, 2);
}

// ============================================================================ the check

using Run = std::function<void(Buffers&, const LaunchShape&)>;

// Runs `run` once per shape on fresh buffers and checks the single output against `expected`.
void check_launches(const std::string& kernel, const std::string& what, const std::vector<LaunchShape>& shapes,
                    const Expected& expected, const Run& run) {
    summary.cases++;
    std::vector<double> first_values;
    std::string first_shape;
    for (const LaunchShape& shape : shapes) {
        std::string where = kernel + " [" + what + "] " + shape.describe();
        grad4j_emulation::describe_running(where);
        Buffers buffers;
        run(buffers, shape);
        summary.launches++;
        std::vector<std::string> problems;
        std::vector<Output> outputs;
        buffers.collect(problems, outputs);
        for (const std::string& p : problems) report_failure(where + ": " + p);
        if (outputs.size() != 1 || outputs[0].values.size() != expected.values.size()) {
            std::fprintf(stderr, "test bug in %s: %zu outputs, expected 1 of %zu elements\n", where.c_str(),
                         outputs.size(), expected.values.size());
            std::exit(2);
        }
        const Output& out = outputs[0];
        int mismatches = 0;
        for (size_t i = 0; i < out.values.size(); i++) {
            double got = out.values[i], want = expected.values[i];
            double scale = expected.scale.empty() ? 0.0 : expected.scale[i];
            std::string why;
            if (out.never_written[i]) why = "never written (still the poison NaN)";
            else if (out.from_guard[i]) why = "holds a guard canary: read outside an input";
            else if (!within(got, want, out.single, expected.tolerance, scale)) why = expected.tolerance.describe();
            if (why.empty()) continue;
            if (mismatches++ < kMaxMismatchesPerRun) {
                report_failure(where + ": " + out.name + "[" + std::to_string(i) + "] got " +
                               format_value(got, out.single) + " expected " + format_value(want, out.single) + " (" +
                               why + ")");
            }
        }
        if (mismatches > kMaxMismatchesPerRun) {
            report_failure(where + ": " + std::to_string(mismatches - kMaxMismatchesPerRun) + " more mismatches in " +
                           out.name + " (" + std::to_string(mismatches) + " of " + std::to_string(out.values.size()) +
                           ")");
        }
        if (first_shape.empty()) {
            first_values = out.values;
            first_shape = shape.describe();
        } else if (mismatches == 0) {
            for (size_t i = 0; i < out.values.size(); i++) {
                if (!same_bits(out.values[i], first_values[i]) && !(std::isnan(out.values[i]) && std::isnan(first_values[i]))) {
                    report_failure(where + ": " + out.name + "[" + std::to_string(i) + "] is " +
                                   format_value(out.values[i], out.single) + " but " +
                                   format_value(first_values[i], out.single) + " with " + first_shape +
                                   " (a kernel's result must not depend on the launch shape)");
                    break;
                }
            }
        }
    }
}

void check(const std::string& kernel, const std::string& what, const std::vector<LaunchShape>& shapes,
           const Expected& expected, const Run& run) {
    summary.kernels.insert(kernel);
    check_launches(kernel, what, shapes, expected, run);
}

// ============================================================================ the emulation itself
// Kernels of this test's own that hold the emulated intrinsics to the CUDA documentation, so a
// grad4j kernel's failure is not the shim's.

__global__ void warp_intrinsics_probe(double* out) {
    int t = threadIdx.x;
    int lane = t & 31;
    double* o = out + t * 8;
    o[0] = __shfl_sync(0xffffffffu, t * 10, 5);          // lane 5 of the warp
    o[1] = __shfl_sync(0xffffffffu, t * 10, 3, 8);       // lane 3 of its 8-lane segment
    o[2] = __shfl_up_sync(0xffffffffu, t * 10, 3);       // lanes 0-2 keep their own value
    o[3] = __shfl_down_sync(0xffffffffu, t * 10, 2, 16); // the top 2 lanes of each 16 keep theirs
    o[4] = __shfl_xor_sync(0xffffffffu, t * 10, 1);
    o[5] = __shfl_xor_sync(0xffffffffu, t * 10, 16, 16); // lanes 0-15 would read a later segment: own value
    o[6] = __ballot_sync(0xffffffffu, lane % 3 == 0);
    o[7] = __any_sync(0xffffffffu, lane == 31) + 2 * __all_sync(0xffffffffu, lane < 31);
}

void check_warp_intrinsics() {
    const int threads = 64;
    std::vector<double> expected;
    unsigned every_third = 0;
    for (int l = 0; l < 32; l += 3) every_third |= 1u << l;
    for (int t = 0; t < threads; t++) {
        int lane = t % 32, warp0 = t - lane;
        expected.insert(expected.end(), {(warp0 + 5) * 10.0, (warp0 + lane / 8 * 8 + 3) * 10.0,
                                         (lane >= 3 ? t - 3 : t) * 10.0, (lane % 16 + 2 < 16 ? t + 2 : t) * 10.0,
                                         (t ^ 1) * 10.0, (lane < 16 ? t : t - 16) * 10.0, (double)every_third, 1.0});
    }
    summary.self_checks.insert("warp intrinsics");
    check_launches("emulation", "warp intrinsics", {{dim3(1), dim3(threads), "two warps"}}, {expected, kExact, {}},
                   [&](Buffers& b, const LaunchShape& s) {
                       double* out = b.output<double>("out", expected.size());
                       launch(warp_intrinsics_probe, s.grid, s.block, out);
                   });
}

// C (16 x 16) = A (16 x k, row-major) * B (k x 16, row- or column-major), on TF32 fragments, one warp.
__global__ void wmma_tf32_probe(const float* a, const float* b, float* c, int k, int b_col_major, int c_col_major) {
    using namespace nvcuda;
    wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int k0 = 0; k0 < k; k0 += 8) {
        wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
        wmma::load_matrix_sync(fa, a + k0, k);
        for (int i = 0; i < fa.num_elements; i++) fa.x[i] = wmma::__float_to_tf32(fa.x[i]);
        if (b_col_major) {
            wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fb;
            wmma::load_matrix_sync(fb, b + k0, k); // element (kk, j) at b[j * k + kk]
            for (int i = 0; i < fb.num_elements; i++) fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
            wmma::mma_sync(acc, fa, fb, acc);
        } else {
            wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb;
            wmma::load_matrix_sync(fb, b + (i64)k0 * 16, 16);
            for (int i = 0; i < fb.num_elements; i++) fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
            wmma::mma_sync(acc, fa, fb, acc);
        }
    }
    wmma::store_matrix_sync(c, acc, 16, c_col_major ? wmma::mem_col_major : wmma::mem_row_major);
}

float bits_to_float(std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

void check_wmma() {
    // cvt.rna.tf32.f32: nearest, ties away from zero, 10 mantissa bits kept
    const float one = 1.0f, tie = 1.0f + 0x1p-11f, tf32_ulp = 0x1p-10f;
    const std::pair<float, float> roundings[] = {
        {one, one}, {tie, one + tf32_ulp}, {-tie, -(one + tf32_ulp)}, {std::nextafter(tie, 0.0f), one},
        {bits_to_float(0x3f800fffu), one}, {bits_to_float(0x3f801001u), one + tf32_ulp}, {kInf<float>, kInf<float>},
        {bits_to_float(0x7f7fffffu), kInf<float>},
    };
    summary.self_checks.insert("wmma::__float_to_tf32");
    for (auto [in, want] : roundings) {
        float got = nvcuda::wmma::__float_to_tf32(in);
        if (!same_bits(got, want)) {
            report_failure("emulation: wmma::__float_to_tf32(" + format_value(in, true) + ") gave " +
                           format_value(got, true) + ", expected " + format_value(want, true));
        }
    }
    summary.self_checks.insert("wmma tf32 16x16x8");
    const int k = 24;
    for (int b_col_major : {0, 1}) {
        for (int c_col_major : {0, 1}) {
            std::vector<float> a = uniform<float>(16 * k, -1, 1), bm = uniform<float>(k * 16, -1, 1);
            Expected e{std::vector<double>(256), relative(1e-6), std::vector<double>(256)};
            for (int i = 0; i < 16; i++) {
                for (int j = 0; j < 16; j++) {
                    double sum = 0, magnitude = 0;
                    for (int kk = 0; kk < k; kk++) {
                        float bv = b_col_major ? bm[j * k + kk] : bm[kk * 16 + j];
                        double p = (double)nvcuda::wmma::__float_to_tf32(a[i * k + kk]) * nvcuda::wmma::__float_to_tf32(bv);
                        sum += p;
                        magnitude += std::fabs(p);
                    }
                    int at = c_col_major ? j * 16 + i : i * 16 + j;
                    e.values[at] = sum;
                    e.scale[at] = magnitude;
                }
            }
            std::string what = std::string("wmma tf32 B ") + (b_col_major ? "col" : "row") + "-major, C " +
                               (c_col_major ? "col" : "row") + "-major";
            check_launches("emulation", what, {{dim3(1), dim3(32), "one warp"}}, e, [&](Buffers& b, const LaunchShape& s) {
                const float* ad = b.input("A", a);
                const float* bd = b.input("B", bm);
                float* cd = b.output<float>("C", 256);
                launch(wmma_tf32_probe, s.grid, s.block, ad, bd, cd, k, b_col_major, c_col_major);
            });
        }
    }
}

// ============================================================================ elementwise

// Lengths and pointer offsets (in elements from a 256-byte boundary) for the contiguous kernels:
// lengths that are not multiples of 4, and operands misaligned alike or differently.
struct Layout {
    size_t n;
    size_t in_offset;
    size_t out_offset;
    std::string describe() const {
        return "n=" + std::to_string(n) + " offsets in+" + std::to_string(in_offset) + " out+" + std::to_string(out_offset);
    }
};
const std::vector<Layout> kContiguousLayouts = {
    {0, 0, 0}, {1, 0, 0}, {7, 1, 1}, {1000, 0, 0}, {1027, 1, 1}, {517, 3, 0}, {515, 0, 2},
};

template <typename T> void test_fill() {
    auto k = KERNEL(T, fill);
    for (const Layout& l : kContiguousLayouts) {
        for (T value : {T(3.25), -T(0), kNaN<T>}) {
            std::vector<T> expected(l.n, value);
            check(k.name, l.describe() + " value=" + format_value(value, kSingle<T>), per_element(l.n),
                  {widen(expected), kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
                      T* out = b.output<T>("out", l.n, l.out_offset);
                      launch(k.fn, s.grid, s.block, out, (i64)l.n, value);
                  });
        }
    }
}

template <typename From, typename To> void test_cast(void (*kernel)(const From*, To*, i64), const char* name) {
    for (const Layout& l : kContiguousLayouts) {
        std::vector<From> src = with_specials(uniform<From>(l.n, -1e3, 1e3));
        if (l.n > 20) { // out of float's range, below its smallest subnormal, a rounding tie
            src[15] = (From)1e300;
            src[16] = (From)1e-50;
            src[17] = (From)(1.0 + 0x1p-24);
        }
        std::vector<To> expected(l.n);
        for (size_t i = 0; i < l.n; i++) expected[i] = (To)src[i];
        check(name, l.describe(), per_element(l.n), {widen(expected), kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
            const From* in = b.input("src", src, l.in_offset);
            To* out = b.output<To>("dst", l.n, l.out_offset);
            launch(kernel, s.grid, s.block, in, out, (i64)l.n);
        });
    }
}

// UnaryOp.apply in T where it is one IEEE operation; transcendental functions in double.
template <typename T> T unary_reference(int op, T x, T p) {
    double d = x;
    switch (op) {
        case U_NEG: return -x;
        case U_EXP: return (T)std::exp(d);
        case U_LOG: return (T)std::log(d);
        case U_SQRT: return (T)std::sqrt(d);
        case U_ABS: return std::fabs(x);
        case U_TANH: return (T)std::tanh(d);
        case U_SIGMOID: return (T)(d >= 0 ? 1.0 / (1.0 + std::exp(-d)) : std::exp(d) / (1.0 + std::exp(d)));
        case U_RELU: return x > 0 || std::isnan(x) ? x : T(0);
        case U_POW: return (T)std::pow(d, (double)p);
        case U_ADD_SCALAR: return x + p;
        case U_MUL_SCALAR: return x * p;
    }
    std::abort();
}

// g * UnaryOp.derivative(x, y, p), in T (only POW calls a transcendental function).
template <typename T> T unary_backward_reference(int op, T x, T y, T g, T p) {
    switch (op) {
        case U_NEG: return g * T(-1);
        case U_EXP: return g * y;
        case U_LOG: return g * (T(1) / x);
        case U_SQRT: return g * (T(0.5) / y);
        case U_ABS: return g * (x > 0 ? T(1) : (x < 0 ? T(-1) : T(0)));
        case U_TANH: return g * (T(1) - y * y);
        case U_SIGMOID: return g * (y * (T(1) - y));
        case U_RELU: return g * (std::isnan(x) ? x : (x > 0 ? T(1) : T(0)));
        case U_POW: return g * (p == 0 ? T(0) : p * (T)std::pow((double)x, (double)p - 1.0));
        case U_ADD_SCALAR: return g * T(1);
        case U_MUL_SCALAR: return g * p;
    }
    std::abort();
}

struct UnaryCase {
    int op;
    const char* name;
    double p;
    bool exact_forward;  // one IEEE operation, or a comparison
    bool exact_backward; // no transcendental function in the derivative
};
const std::vector<UnaryCase> kUnaryCases = {
    {U_NEG, "NEG", 0, true, true},          {U_EXP, "EXP", 0, false, true},
    {U_LOG, "LOG", 0, false, true},         {U_SQRT, "SQRT", 0, true, true},
    {U_ABS, "ABS", 0, true, true},          {U_TANH, "TANH", 0, false, true},
    {U_SIGMOID, "SIGMOID", 0, false, true}, {U_RELU, "RELU", 0, true, true},
    {U_POW, "POW p=2", 2, false, false},    {U_POW, "POW p=0.5", 0.5, false, false},
    {U_POW, "POW p=-1.5", -1.5, false, false}, {U_POW, "POW p=0", 0, false, false},
    {U_ADD_SCALAR, "ADD_SCALAR", 0.25, true, true}, {U_MUL_SCALAR, "MUL_SCALAR", -1.5, true, true},
};

template <typename T> void test_unary() {
    auto k = KERNEL(T, unary);
    for (const UnaryCase& c : kUnaryCases) {
        for (const Layout& l : kContiguousLayouts) {
            T p = (T)c.p;
            std::vector<T> x = with_specials(uniform<T>(l.n, -3, 3));
            std::vector<T> expected(l.n);
            for (size_t i = 0; i < l.n; i++) expected[i] = unary_reference(c.op, x[i], p);
            check(k.name, std::string(c.name) + " " + l.describe(), per_element(l.n),
                  {widen(expected), c.exact_forward ? kExact : kTranscendental, {}},
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* in = b.input("x", x, l.in_offset);
                      T* out = b.output<T>("out", l.n, l.out_offset);
                      launch(k.fn, s.grid, s.block, c.op, p, in, out, (i64)l.n);
                  });
        }
    }
}

template <typename T> void test_unary_backward() {
    auto k = KERNEL(T, unary_backward);
    for (const UnaryCase& c : kUnaryCases) {
        for (const Layout& l : kContiguousLayouts) {
            T p = (T)c.p;
            std::vector<T> x = with_specials(uniform<T>(l.n, -3, 3));
            std::vector<T> g = uniform<T>(l.n, -2, 2);
            std::vector<T> y(l.n), expected(l.n);
            for (size_t i = 0; i < l.n; i++) {
                y[i] = unary_reference(c.op, x[i], p);
                expected[i] = unary_backward_reference(c.op, x[i], y[i], g[i], p);
            }
            check(k.name, std::string(c.name) + " " + l.describe(), per_element(l.n),
                  {widen(expected), c.exact_backward ? kExact : ulps(8), {}}, [&](Buffers& b, const LaunchShape& s) {
                      const T* xd = b.input("x", x, l.in_offset);
                      const T* yd = b.input("y", y, l.in_offset);
                      const T* gd = b.input("g", g, l.in_offset);
                      T* out = b.output<T>("out", l.n, l.out_offset);
                      launch(k.fn, s.grid, s.block, c.op, p, xd, yd, gd, out, (i64)l.n);
                  });
        }
    }
}

// erf, sin, cos and the two GELUs: the reference evaluates the kernel's formula in T with the host's
// functions (the emulated kernel calls the same ones), and the tolerance is relative to the size of
// the terms (|x| forward, |g| (1 + |x|) backward), since GELU's 1 + erf(x / sqrt 2) cancels for
// negative x and a float result is then far from its double value in ulps while still right.
template <typename T> T special_reference(int op, T x) {
    switch (op) {
        case U_ERF: return std::erf(x);
        case U_SIN: return std::sin(x);
        case U_COS: return std::cos(x);
        case U_GELU: return x * T(0.5) * (T(1) + std::erf(x * T(GELU_SQRT1_2)));
        case U_GELU_TANH: return T(0.5) * x * (T(1) + std::tanh(T(GELU_BETA) * (x + T(GELU_KAPPA) * (x * x * x))));
    }
    std::abort();
}
template <typename T> T special_derivative(int op, T x) {
    switch (op) {
        case U_ERF: return T(TWO_OVER_SQRT_PI) * std::exp(-x * x);
        case U_SIN: return std::cos(x);
        case U_COS: return -std::sin(x);
        case U_GELU: return T(0.5) * (T(1) + std::erf(x * T(GELU_SQRT1_2))) + x * (std::exp(T(-0.5) * x * x) * T(GELU_ALPHA));
        case U_GELU_TANH: {
            T x2 = x * x;
            T t = std::tanh(T(GELU_BETA) * (x + T(GELU_KAPPA) * (x2 * x)));
            return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * (T(GELU_BETA) * (T(1) + T(3.0 * GELU_KAPPA) * x2));
        }
    }
    std::abort();
}
template <typename T> void test_unary_special() {
    auto forward = KERNEL(T, unary);
    auto backward = KERNEL(T, unary_backward);
    const std::pair<int, const char*> ops[] = {{U_ERF, "ERF"}, {U_SIN, "SIN"}, {U_COS, "COS"}, {U_GELU, "GELU"},
                                               {U_GELU_TANH, "GELU_TANH"}};
    const Tolerance close = relative(kSingle<T> ? 1e-6 : 1e-14);
    for (auto [op, name] : ops) {
        for (const Layout& l : kContiguousLayouts) {
            std::vector<T> x = with_specials(uniform<T>(l.n, -6, 6));
            std::vector<T> g = uniform<T>(l.n, -2, 2);
            std::vector<T> y(l.n), dx(l.n);
            std::vector<double> ys(l.n), dxs(l.n);
            for (size_t i = 0; i < l.n; i++) {
                y[i] = special_reference(op, x[i]);
                dx[i] = g[i] * special_derivative(op, x[i]);
                ys[i] = std::fabs((double)x[i]) + 1;
                dxs[i] = std::fabs((double)g[i]) * (2 + std::fabs((double)x[i]));
            }
            check(forward.name, std::string(name) + " " + l.describe(), per_element(l.n), {widen(y), close, ys},
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* in = b.input("x", x, l.in_offset);
                      T* out = b.output<T>("out", l.n, l.out_offset);
                      launch(forward.fn, s.grid, s.block, op, T(0), in, out, (i64)l.n);
                  });
            check(backward.name, std::string(name) + " " + l.describe(), per_element(l.n), {widen(dx), close, dxs},
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* xd = b.input("x", x, l.in_offset);
                      const T* yd = b.input("y", y, l.in_offset);
                      const T* gd = b.input("g", g, l.in_offset);
                      T* out = b.output<T>("out", l.n, l.out_offset);
                      launch(backward.fn, s.grid, s.block, op, T(0), xd, yd, gd, out, (i64)l.n);
                  });
        }
    }
}

template <typename T> void test_axpby() {
    auto k = KERNEL(T, axpby);
    const std::pair<double, double> coefficients[] = {{0.9, -0.1}, {1, 1}, {0, 1}, {-1e-3, 0.999}};
    for (auto [a, bcoef] : coefficients) {
        for (const Layout& l : kContiguousLayouts) {
            T alpha = (T)a, beta = (T)bcoef;
            std::vector<T> x = with_specials(uniform<T>(l.n, -3, 3));
            std::vector<T> y = uniform<T>(l.n, -3, 3);
            std::vector<T> expected(l.n);
            for (size_t i = 0; i < l.n; i++) expected[i] = alpha * x[i] + beta * y[i]; // two products, one sum: no FMA
            check(k.name, "alpha=" + format_value(alpha, kSingle<T>) + " beta=" + format_value(beta, kSingle<T>) + " " +
                              l.describe(),
                  per_element(l.n), {widen(expected), kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
                      const T* xd = b.input("x", x, l.in_offset);
                      T* yd = b.in_out("y", y, l.out_offset);
                      launch(k.fn, s.grid, s.block, alpha, xd, beta, yd, (i64)l.n);
                  });
        }
    }
}

// axpby_list and copy_list: pairs laid out one after another in one x buffer and one y buffer,
// with gaps (which must stay as they were) and odd offsets (so some pairs take the scalar path);
// blocks per pair as CudaBackend gives them (PairList.java), then 1 and 3 (the grid-stride loop
// wraps within a pair's blocks). copy_list's y starts as NaN where it is overwritten: not read.
constexpr i64 kListBlocksPerPair = 4096; // PairList.BLOCKS_PER_PAIR

template <typename T, typename Launch, typename Expect>
void check_pair_list(const std::string& kernel, const std::string& what, const std::vector<size_t>& sizes, bool y_is_nan,
                     Expect expect, Launch launch_list) {
    constexpr i64 V = 16 / sizeof(T);
    std::vector<size_t> xAt, yAt;
    size_t xEnd = 0, yEnd = 0;
    for (size_t t = 0; t < sizes.size(); t++) {
        xEnd += t % 3;       // gaps of 0, 1, 2 elements before each x
        yEnd += (t + 1) % 4; // and of 1, 2, 3, 0 before each y
        xAt.push_back(xEnd);
        yAt.push_back(yEnd);
        xEnd += sizes[t];
        yEnd += sizes[t];
    }
    yEnd += 2;
    std::vector<T> x = with_specials(uniform<T>(xEnd, -3, 3));
    std::vector<T> y = uniform<T>(yEnd, -3, 3);
    std::vector<T> expected = y;
    for (size_t t = 0; t < sizes.size(); t++) {
        for (size_t i = 0; i < sizes[t]; i++) {
            if (y_is_nan) y[yAt[t] + i] = kNaN<T>;
            expected[yAt[t] + i] = expect(x[xAt[t] + i], y[yAt[t] + i]);
        }
    }
    std::vector<LaunchShape> shapes = {{dim3((unsigned)kListBlocksPerPair), dim3(kThreads), "blocks per pair as the backend"},
                                       {dim3(1), dim3(kThreads), "1 block per pair"},
                                       {dim3(3), dim3(kThreads), "3 blocks per pair"}};
    check(kernel, std::to_string(sizes.size()) + " pairs" + what, shapes, {widen(expected), kExact, {}},
          [&](Buffers& b, const LaunchShape& s) {
              const T* xd = b.input("x", x);
              T* yd = b.in_out("y", y);
              PairList list{};
              list.count = (i64)sizes.size();
              i64 blocks = 0;
              for (size_t t = 0; t < sizes.size(); t++) {
                  list.x[t] = xd + xAt[t];
                  list.y[t] = yd + yAt[t];
                  list.n[t] = (i64)sizes[t];
                  list.blockStart[t] = blocks;
                  i64 wanted = ((i64)sizes[t] + kThreads * V - 1) / (kThreads * V);
                  blocks += std::max<i64>(1, std::min<i64>(wanted, s.grid.x));
              }
              list.blockStart[sizes.size()] = blocks;
              launch_list(dim3((unsigned)blocks), s.block, list);
          });
}

const std::vector<std::vector<size_t>> kPairSets = {
    {1000},
    {1, 7, 517, 4099, 64, 3},
    std::vector<size_t>(PAIR_LIST_MAX, 33), // a full list: the block search walks every entry
};

template <typename T> void test_pair_lists() {
    auto axpby = KERNEL(T, axpby_list);
    auto copy = KERNEL(T, copy_list);
    const std::pair<double, double> coefficients[] = {{-0.05, 1.0}, {0.9, -0.1}};
    for (const auto& sizes : kPairSets) {
        for (auto [a, bcoef] : coefficients) {
            T alpha = (T)a, beta = (T)bcoef;
            check_pair_list<T>(axpby.name, ", alpha=" + format_value(alpha, kSingle<T>), sizes, false,
                               [=](T xv, T yv) { return alpha * xv + beta * yv; }, // two products, one sum
                               [&](dim3 grid, dim3 block, const PairList& list) { launch(axpby.fn, grid, block, alpha, beta, list); });
        }
        check_pair_list<T>(copy.name, ", y NaN before", sizes, true, [](T xv, T) { return xv; },
                           [&](dim3 grid, dim3 block, const PairList& list) { launch(copy.fn, grid, block, list); });
    }
}

// adam_list: parameters laid out one after another (gaps, odd offsets) in four buffers; the
// reference composes the step of separate roundings in T (-ffp-contract=off keeps g++ from
// fusing them), as the composed tensor operations compute it. Each mode (no weight decay, Adam's
// coupled decay, AdamW's decoupled decay), a first step (m and v hold NaN: not read) and a later
// one; the three updated buffers share one in-out buffer, so one comparison covers them.
template <typename T> void test_adam_list() {
    auto k = KERNEL(T, adam_list);
    constexpr i64 V = 16 / sizeof(T);
    // two layouts: every parameter's four buffers 16-byte aligned (the 16-byte path, as cudaMalloc'd
    // blocks run it; one parameter long enough that the grid-stride loop wraps at 1 and 3 blocks),
    // and odd offsets with gaps (the scalar path)
    struct Layout { std::vector<size_t> sizes; bool aligned; };
    const std::vector<Layout> layouts = {{{1000, 1, 7, 517, 64, 3}, false}, {{4 * 256 * 4 + 8, 12, 8, 5, 1024}, true}};
    const double b1 = 0.8, b2 = 0.95, eps = 1e-3, lr = 0.7, wdValue = 0.05;
    for (const Layout& layout : layouts) {
        const std::vector<size_t>& sizes = layout.sizes;
        for (int mode : {0, (int)ADAM_COUPLED_DECAY, (int)ADAM_DECOUPLED_DECAY}) {
            for (int firsts : {0, 1, 2}) { // all first steps, none, alternating
                auto is_first = [&](size_t t) { return firsts == 0 || (firsts == 2 && t % 2 == 0); };
                // one buffer holds p, then m, then v for every parameter
                std::vector<size_t> pAt, gAt, mAt, vAt;
                auto place = [&](size_t& end, size_t gap, size_t n) {
                    if (layout.aligned) end = (end + V - 1) / V * V; else end += gap;
                    size_t at = end;
                    end += n;
                    return at;
                };
                size_t end = 0, gEnd = 0;
                for (size_t t = 0; t < sizes.size(); t++) pAt.push_back(place(end, t % 3, sizes[t]));
                for (size_t t = 0; t < sizes.size(); t++) gAt.push_back(place(gEnd, (t + 1) % 4, sizes[t]));
                for (size_t t = 0; t < sizes.size(); t++) mAt.push_back(place(end, 1 + t % 2, sizes[t]));
                for (size_t t = 0; t < sizes.size(); t++) vAt.push_back(place(end, t % 2, sizes[t]));
                end += 2;
                std::vector<T> state = uniform<T>(end, -2, 2);
                for (size_t t = 0; t < sizes.size(); t++) {
                    for (size_t i = 0; i < sizes[t]; i++) state[vAt[t] + i] = std::fabs(state[vAt[t] + i]); // v >= 0
                    if (is_first(t)) {
                        for (size_t i = 0; i < sizes[t]; i++) state[mAt[t] + i] = state[vAt[t] + i] = kNaN<T>; // not read
                    }
                }
                std::vector<T> grads = uniform<T>(gEnd, -3, 3);
                std::vector<double> stepSize, inv;
                std::vector<T> expected = state;
                const T cb1 = (T)b1, comb1 = (T)(1 - b1), cb2 = (T)b2, comb2 = (T)(1 - b2), ceps = (T)eps, cwd = (T)wdValue,
                        cdecay = (T)(1 - lr * wdValue);
                for (size_t t = 0; t < sizes.size(); t++) {
                    int step = is_first(t) ? 1 : 2 + (int)t;
                    stepSize.push_back(lr / (1 - std::pow(b1, step)));
                    inv.push_back(1.0 / std::sqrt(1 - std::pow(b2, step)));
                    T size = (T)stepSize.back(), cinv = (T)inv.back();
                    for (size_t i = 0; i < sizes[t]; i++) {
                        T p = state[pAt[t] + i], g = grads[gAt[t] + i], m = state[mAt[t] + i], v = state[vAt[t] + i];
                        if (mode == ADAM_DECOUPLED_DECAY) p = p * cdecay;
                        if (mode == ADAM_COUPLED_DECAY) { T pw = p * cwd; g = g + pw; }
                        T gg = g * g;
                        if (is_first(t)) { m = g * comb1; v = gg * comb2; }
                        else { T a = m * cb1, c = g * comb1; m = a + c; T d = v * cb2, e = gg * comb2; v = d + e; }
                        T root = std::sqrt(v);
                        T scaled = root * cinv;
                        T denom = scaled + ceps;
                        T q = m / denom;
                        T upd = q * size;
                        expected[pAt[t] + i] = p - upd;
                        expected[mAt[t] + i] = m;
                        expected[vAt[t] + i] = v;
                    }
                }
                std::vector<LaunchShape> shapes = {{dim3((unsigned)kListBlocksPerPair), dim3(kThreads), "blocks per parameter as the backend"},
                                                   {dim3(1), dim3(kThreads), "1 block per parameter"},
                                                   {dim3(3), dim3(kThreads), "3 blocks per parameter"}};
                check(k.name, std::string(layout.aligned ? "aligned" : "odd offsets") + ", mode " + std::to_string(mode) +
                                  (firsts == 0 ? ", first steps" : firsts == 1 ? ", later steps" : ", mixed steps"),
                      shapes, {widen(expected), kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
                          T* st = b.in_out("p,m,v", state);
                          const T* gd = b.input("g", grads);
                          AdamList list{};
                          list.count = (i64)sizes.size();
                          i64 blocks = 0;
                          for (size_t t = 0; t < sizes.size(); t++) {
                              list.p[t] = st + pAt[t];
                              list.g[t] = gd + gAt[t];
                              list.m[t] = st + mAt[t];
                              list.v[t] = st + vAt[t];
                              list.n[t] = (i64)sizes[t];
                              list.blockStart[t] = blocks;
                              list.stepSize[t] = stepSize[t];
                              list.invBiasCorrection2Sqrt[t] = inv[t];
                              list.first[t] = is_first(t) ? 1 : 0;
                              i64 wanted = ((i64)sizes[t] + kThreads * V - 1) / (kThreads * V);
                              blocks += std::max<i64>(1, std::min<i64>(wanted, s.grid.x));
                          }
                          list.blockStart[sizes.size()] = blocks;
                          launch(k.fn, dim3((unsigned)blocks), s.block, b1, 1 - b1, b2, 1 - b2, eps, wdValue, 1 - lr * wdValue,
                                 mode, list);
                      });
            }
        }
    }
}

template <typename T> T binary_reference(int op, T a, T b) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        case B_DIV: return a / b;
    }
    std::abort();
}
const char* const kBinaryNames[] = {"ADD", "SUB", "MUL", "DIV"};

template <typename T> void test_binary_contig() {
    auto k = KERNEL(T, binary_contig);
    struct Steps {
        int a, b;
        bool out_is_a; // CudaBackend writes over the first operand in place
    };
    const Steps steps[] = {{1, 1, false}, {1, 0, false}, {0, 1, false}, {1, 1, true}, {1, 0, true}};
    for (int op = B_ADD; op <= B_DIV; op++) {
        for (Steps st : steps) {
            for (const Layout& l : kContiguousLayouts) {
                std::vector<T> a = with_specials(uniform<T>(st.a ? l.n : 1, -3, 3));
                std::vector<T> bv = uniform<T>(st.b ? l.n : 1, -3, 3);
                if (st.b && l.n > 40) bv[40] = T(0); // division by zero
                std::vector<T> expected(l.n);
                for (size_t i = 0; i < l.n; i++) expected[i] = binary_reference(op, a[i * st.a], bv[i * st.b]);
                std::string what = std::string(kBinaryNames[op]) + " steps " + std::to_string(st.a) + "," +
                                   std::to_string(st.b) + (st.out_is_a ? " out=a " : " ") + l.describe();
                check(k.name, what, per_element(l.n), {widen(expected), kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
                    const T* bd = b.input("b", bv, l.in_offset);
                    if (st.out_is_a) {
                        T* ad = b.in_out("a=out", a, l.out_offset);
                        launch(k.fn, s.grid, s.block, op, ad, st.a, bd, st.b, ad, (i64)l.n);
                    } else {
                        const T* ad = b.input("a", a, l.in_offset);
                        T* out = b.output<T>("out", l.n, l.out_offset);
                        launch(k.fn, s.grid, s.block, op, ad, st.a, bd, st.b, out, (i64)l.n);
                    }
                });
            }
        }
    }
}

// ============================================================================ strided kernels

struct StridedCase {
    const char* name;
    std::vector<i64> shape;
    std::vector<i64> a; // element strides of the first operand (strided_copy's source)
    std::vector<i64> b; // of the second operand
};

std::vector<i64> contiguous(const std::vector<i64>& shape) {
    std::vector<i64> s(shape.size());
    i64 step = 1;
    for (size_t i = shape.size(); i-- > 0;) {
        s[i] = step;
        step *= shape[i];
    }
    return s;
}
// Strides of `shape` read from a tensor stored with its axes in `storage` order (outermost first).
std::vector<i64> permuted(const std::vector<i64>& shape, const std::vector<int>& storage) {
    std::vector<i64> stored_shape;
    for (int ax : storage) stored_shape.push_back(shape[ax]);
    std::vector<i64> stored = contiguous(stored_shape), s(shape.size());
    for (size_t i = 0; i < storage.size(); i++) s[storage[i]] = stored[i];
    return s;
}
// Contiguous strides with the marked axes broadcast (stride 0).
std::vector<i64> broadcast(const std::vector<i64>& shape, const std::vector<int>& broadcast_axes) {
    std::vector<i64> kept = shape;
    for (int ax : broadcast_axes) kept[ax] = 1;
    std::vector<i64> s = contiguous(kept);
    for (int ax : broadcast_axes) s[ax] = 0;
    return s;
}
std::vector<i64> scaled(std::vector<i64> s, i64 factor) {
    for (i64& v : s) v *= factor;
    return s;
}

const std::vector<StridedCase>& strided_cases() {
    static const std::vector<StridedCase> cases = {
        {"rank 0 (a scalar)", {}, {}, {}},
        {"rank 1, every other element", {37}, {2}, {1}},
        {"rank 1, both broadcast", {5}, {0}, {0}},
        {"empty", {3, 0, 4}, {0, 4, 1}, {0, 4, 1}},
        {"bias add [5,7] + [7]", {5, 7}, contiguous({5, 7}), broadcast({5, 7}, {0})},
        {"transpose [7,5]", {7, 5}, permuted({7, 5}, {1, 0}), contiguous({7, 5})},
        {"[3,1,4] size-1 axis", {3, 1, 4}, {4, 4, 1}, {1, 0, 3}},
        {"rank 3 broadcast both", {3, 4, 5}, broadcast({3, 4, 5}, {1}), broadcast({3, 4, 5}, {0, 2})},
        {"rank 4 permuted and sliced", {2, 3, 4, 5}, scaled(permuted({2, 3, 4, 5}, {3, 1, 0, 2}), 2),
         broadcast({2, 3, 4, 5}, {2})},
        {"rank 8 permuted / broadcast", {2, 3, 2, 2, 3, 2, 2, 2}, permuted({2, 3, 2, 2, 3, 2, 2, 2}, {7, 0, 6, 1, 5, 2, 4, 3}),
         broadcast({2, 3, 2, 2, 3, 2, 2, 2}, {0, 3, 6})},
        {"rank 8 long rows", {2, 2, 2, 2, 2, 2, 3, 41}, contiguous({2, 2, 2, 2, 2, 2, 3, 41}),
         permuted({2, 2, 2, 2, 2, 2, 3, 41}, {7, 6, 5, 4, 3, 2, 1, 0})},
    };
    return cases;
}

i64 elements(const std::vector<i64>& shape) {
    i64 n = 1;
    for (i64 d : shape) n *= d;
    return n;
}
// Elements an operand read at `strides` over `shape` needs (its last element's offset + 1).
size_t storage_for(const std::vector<i64>& shape, const std::vector<i64>& strides) {
    if (elements(shape) == 0) return 1;
    i64 last = 0;
    for (size_t i = 0; i < shape.size(); i++) last += (shape[i] - 1) * strides[i];
    return (size_t)last + 1;
}
// Offset of the element with row-major index i over shape in an operand with these strides.
i64 offset_of(i64 i, const std::vector<i64>& shape, const std::vector<i64>& strides) {
    i64 off = 0;
    for (size_t ax = shape.size(); ax-- > 0;) {
        off += (i % shape[ax]) * strides[ax];
        i /= shape[ax];
    }
    return off;
}

// Each case twice: into a contiguous destination, and into one stored with its axes reversed (a
// write into a transposed view); the source starts 3 elements into its buffer (a view's offset).
template <typename T> void test_strided_copy() {
    auto k = KERNEL(T, strided_copy);
    const i64 src_off = 3;
    for (const StridedCase& c : strided_cases()) {
        i64 n = elements(c.shape);
        std::vector<int> reversed;
        for (size_t ax = c.shape.size(); ax-- > 0;) reversed.push_back((int)ax);
        std::vector<T> src = with_specials(uniform<T>(storage_for(c.shape, c.a) + src_off, -3, 3));
        for (const auto& [what, dst_strides] : {std::pair{"contiguous", contiguous(c.shape)},
                                                 std::pair{"into a transposed view", permuted(c.shape, reversed)}}) {
            std::vector<T> expected(n);
            for (i64 i = 0; i < n; i++) expected[offset_of(i, c.shape, dst_strides)] = src[src_off + offset_of(i, c.shape, c.a)];
            check(k.name, std::string(c.name) + ", " + what, per_element(n), {widen(expected), kExact, {}},
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* in = b.input("src", src);
                      T* out = b.output<T>("dst", n);
                      launch(k.fn, s.grid, s.block, in, src_off, out, (i64)0, n, (int)c.shape.size(), dims_of(c.shape),
                             dims_of(c.a), dims_of(dst_strides));
                  });
        }
    }
}

template <typename T> void test_binary_strided() {
    auto k = KERNEL(T, binary_strided);
    for (int op = B_ADD; op <= B_DIV; op++) {
        for (const StridedCase& c : strided_cases()) {
            i64 n = elements(c.shape);
            std::vector<T> a = with_specials(uniform<T>(storage_for(c.shape, c.a), -3, 3));
            std::vector<T> bv = uniform<T>(storage_for(c.shape, c.b), -3, 3);
            std::vector<T> expected(n);
            for (i64 i = 0; i < n; i++) expected[i] = binary_reference(op, a[offset_of(i, c.shape, c.a)], bv[offset_of(i, c.shape, c.b)]);
            check(k.name, std::string(kBinaryNames[op]) + " " + c.name, per_element(n), {widen(expected), kExact, {}},
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* ad = b.input("a", a);
                      const T* bd = b.input("b", bv);
                      T* out = b.output<T>("out", n);
                      launch(k.fn, s.grid, s.block, op, ad, bd, out, n, (int)c.shape.size(), dims_of(c.shape),
                             dims_of(c.a), dims_of(c.b));
                  });
        }
    }
}

// ============================================================================ reductions

// A tensor viewed as [outer, axis, inner], and rows of it planted with values that reductions and
// their gradients must treat specially.
struct AxisView {
    i64 outer;
    int axis;
    i64 inner;
    std::string describe() const {
        return "[" + std::to_string(outer) + "," + std::to_string(axis) + "," + std::to_string(inner) + "]";
    }
    i64 rows() const { return outer * inner; }
    size_t size() const { return (size_t)(outer * axis * inner); }
    size_t at(i64 row, int j) const { // row = o * inner + i
        return (size_t)((row / inner) * axis * inner + (i64)j * inner + row % inner);
    }
};

// Row 1 gets a NaN in its middle, row 2 is all -inf, row 3 has +inf at its end, row 4 a NaN
// as its first element (where there are that many rows and elements).
template <typename T> void plant_specials(std::vector<T>& x, const AxisView& v) {
    if (v.axis == 0) return;
    if (v.rows() > 1) x[v.at(1, v.axis / 2)] = kNaN<T>;
    if (v.rows() > 2) for (int j = 0; j < v.axis; j++) x[v.at(2, j)] = -kInf<T>;
    if (v.rows() > 3) x[v.at(3, v.axis - 1)] = kInf<T>;
    if (v.rows() > 4) x[v.at(4, 0)] = kNaN<T>;
}

// max that propagates NaN, in index order, as the cpu backend's Reductions.
template <typename T> T max_reference(T acc, T v) { return std::isnan(acc) ? acc : (std::isnan(v) || v > acc ? v : acc); }

template <typename T> Expected reduce_reference(int op, const std::vector<T>& x, const AxisView& v) {
    Expected e{{}, op == R_SUM ? kSummed<T> : kExact, {}};
    for (i64 r = 0; r < v.rows(); r++) {
        double sum = 0, magnitude = 0;
        T m = -kInf<T>;
        for (int j = 0; j < v.axis; j++) {
            T xv = x[v.at(r, j)];
            sum += (double)xv;
            magnitude += std::fabs((double)xv);
            m = max_reference(m, xv);
        }
        e.values.push_back(op == R_SUM ? (double)(T)sum : (double)m);
        e.scale.push_back(magnitude);
    }
    return e;
}

template <typename T> void test_reductions() {
    auto rows_kernel = KERNEL(T, reduce_rows);
    auto block_kernel = KERNEL(T, reduce_rows_block);
    auto cols_kernel = KERNEL(T, reduce_cols);
    // inner == 1: reduce_rows (one warp per row) below CudaBackend.LONG_ROW, reduce_rows_block at or above
    const AxisView warp_rows[] = {{3, 0, 1}, {1, 1, 1}, {7, 31, 1}, {8, 32, 1}, {9, 33, 1}, {20, 7, 1}, {5, 100, 1}, {3, 1000, 1}};
    const AxisView block_rows[] = {{1, 4096, 1}, {5, 4100, 1}, {2, 100, 1}};
    const AxisView columns[] = {{1, 5, 3}, {3, 7, 2}, {2, 1, 9}, {4, 33, 5}, {2, 0, 3}, {3, 17, 300}};
    for (int op : {R_SUM, R_MAX}) {
        const char* op_name = op == R_SUM ? "SUM " : "MAX ";
        for (const AxisView& v : warp_rows) {
            std::vector<T> x = uniform<T>(v.size(), -1, 1);
            plant_specials(x, v);
            check(rows_kernel.name, op_name + v.describe(), per_warp(v.rows()), reduce_reference(op, x, v),
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* in = b.input("x", x);
                      T* out = b.output<T>("out", v.rows());
                      launch(rows_kernel.fn, s.grid, s.block, op, in, out, v.rows(), v.axis);
                  });
        }
        for (const AxisView& v : block_rows) {
            std::vector<T> x = uniform<T>(v.size(), -1, 1);
            plant_specials(x, v);
            check(block_kernel.name, op_name + v.describe(), per_block(v.rows(), kLongRowThreads),
                  reduce_reference(op, x, v), [&](Buffers& b, const LaunchShape& s) {
                      const T* in = b.input("x", x);
                      T* out = b.output<T>("out", v.rows());
                      launch(block_kernel.fn, s.grid, s.block, op, in, out, v.rows(), v.axis);
                  });
        }
        // long axis, few columns (CudaBackend: axis >= 64 and outer * inner < 32768): reduce_cols_wide
        auto wide_kernel = KERNEL(T, reduce_cols_wide);
        const AxisView wide[] = {{1, 300, 40}, {2, 64, 3}, {3, 129, 33}, {1, 1000, 1}, {2, 70, 64}};
        for (const AxisView& v : wide) {
            std::vector<T> x = uniform<T>(v.size(), -1, 1);
            plant_specials(x, v);
            i64 tiles = v.outer * ((v.inner + 31) / 32);
            std::vector<LaunchShape> shapes{{dim3(capped(tiles)), dim3(1024), "as reduce (wide columns)"},
                                            {dim3(1), dim3(1024), "1 block"}};
            check(wide_kernel.name, op_name + v.describe(), shapes, reduce_reference(op, x, v),
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* in = b.input("x", x);
                      T* out = b.output<T>("out", v.rows());
                      launch(wide_kernel.fn, s.grid, s.block, op, in, out, v.outer, v.axis, v.inner);
                  });
        }
        for (const AxisView& v : columns) {
            std::vector<T> x = uniform<T>(v.size(), -1, 1);
            plant_specials(x, v);
            check(cols_kernel.name, op_name + v.describe(), per_element(v.rows()), reduce_reference(op, x, v),
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* in = b.input("x", x);
                      T* out = b.output<T>("out", v.rows());
                      launch(cols_kernel.fn, s.grid, s.block, op, in, out, v.outer, v.axis, v.inner);
                  });
        }
    }
}

// out = g[row] at the FIRST j whose x equals the row's max (a NaN max matches the first NaN), 0 elsewhere.
template <typename T> std::vector<T> max_backward_reference(const std::vector<T>& x, const std::vector<T>& mx,
                                                            const std::vector<T>& g, const AxisView& v) {
    std::vector<T> out(v.size(), T(0));
    for (i64 r = 0; r < v.rows(); r++) {
        for (int j = 0; j < v.axis; j++) {
            T xv = x[v.at(r, j)];
            if (xv == mx[r] || (std::isnan(xv) && std::isnan(mx[r]))) {
                out[v.at(r, j)] = g[r];
                break;
            }
        }
    }
    return out;
}

// inner == 1: max_backward_rows, one warp per row; else max_backward_cols, one thread per column.
template <typename T, bool kWarpPerRow, typename K> void max_backward_case(const K& kernel, const AxisView& v) {
    // few distinct values: the max is tied within and across 32-element chunks
    std::vector<T> x = small_integers<T>(v.size(), 4);
    plant_specials(x, v);
    std::vector<T> mx(v.rows());
    for (i64 r = 0; r < v.rows(); r++) {
        T m = -kInf<T>;
        for (int j = 0; j < v.axis; j++) m = max_reference(m, x[v.at(r, j)]);
        mx[r] = m;
    }
    if (v.rows() > 5 && v.axis > 1) { // the max first occurs only late in the row (a later 32-wide chunk), then again
        for (int j = 0; j < v.axis; j++) x[v.at(5, j)] = T(0);
        x[v.at(5, v.axis - 1)] = T(7);
        x[v.at(5, std::max(1, v.axis - 30))] = T(7);
        mx[5] = T(7);
    }
    if (v.rows() > 6) mx[6] = T(99); // a max the row does not hold: no gradient at all
    std::vector<T> g = uniform<T>(v.rows(), 0.5, 2);
    std::vector<T> expected = max_backward_reference(x, mx, g, v);
    auto shapes = kWarpPerRow ? per_warp(v.rows()) : per_element(v.rows());
    check(kernel.name, v.describe(), shapes, {widen(expected), kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
        const T* xd = b.input("x", x);
        const T* md = b.input("max", mx);
        const T* gd = b.input("g", g);
        T* out = b.output<T>("out", v.size());
        if constexpr (kWarpPerRow) launch(kernel.fn, s.grid, s.block, xd, md, gd, out, v.rows(), v.axis);
        else launch(kernel.fn, s.grid, s.block, xd, md, gd, out, v.outer, v.axis, v.inner);
    });
}

template <typename T> void test_max_backward() {
    const AxisView rows[] = {{3, 1, 1}, {4, 32, 1}, {6, 33, 1}, {3, 64, 1}, {5, 65, 1}, {7, 100, 1}, {9, 40, 1}};
    const AxisView columns[] = {{2, 5, 3}, {3, 33, 4}, {1, 1, 7}, {2, 40, 65}, {7, 3, 2}};
    for (const AxisView& v : rows) max_backward_case<T, true>(KERNEL(T, max_backward_rows), v);
    for (const AxisView& v : columns) max_backward_case<T, false>(KERNEL(T, max_backward_cols), v);
}

// ============================================================================ softmax

// As the cpu backend's Reductions.softmax, in double.
template <typename T> Expected softmax_reference(const std::vector<T>& x, const AxisView& v, bool log) {
    Expected e{std::vector<double>(v.size()), kSummed<T>, std::vector<double>(v.size(), 1.0)};
    for (i64 r = 0; r < v.rows(); r++) {
        double m = -INFINITY;
        for (int j = 0; j < v.axis; j++) m = max_reference(m, (double)x[v.at(r, j)]);
        double s = 0;
        for (int j = 0; j < v.axis; j++) s += std::exp((double)x[v.at(r, j)] - m);
        double log_sum = std::log(s);
        for (int j = 0; j < v.axis; j++) {
            double shifted = (double)x[v.at(r, j)] - m;
            e.values[v.at(r, j)] = (double)(T)(log ? shifted - log_sum : std::exp(shifted) / s);
        }
    }
    return e;
}

// softmax: y * (g - sum(g * y)); log-softmax: g - exp(y) * sum(g). Scale: the terms' magnitudes.
template <typename T> Expected softmax_backward_reference(const std::vector<T>& y, const std::vector<T>& g,
                                                          const AxisView& v, bool log) {
    Expected e{std::vector<double>(v.size()), kSummed<T>, std::vector<double>(v.size())};
    for (i64 r = 0; r < v.rows(); r++) {
        double dot = 0, dot_magnitude = 0;
        for (int j = 0; j < v.axis; j++) {
            size_t k = v.at(r, j);
            double term = log ? (double)g[k] : (double)g[k] * (double)y[k];
            dot += term;
            dot_magnitude += std::fabs(term);
        }
        for (int j = 0; j < v.axis; j++) {
            size_t k = v.at(r, j);
            double gv = g[k], yv = y[k];
            e.values[k] = (double)(T)(log ? gv - std::exp(yv) * dot : yv * (gv - dot));
            e.scale[k] = log ? std::fabs(gv) + std::exp(yv) * dot_magnitude : std::fabs(yv) * (std::fabs(gv) + dot_magnitude);
        }
    }
    return e;
}

// inner == 1 and axis >= 64: the _rows kernels, one block per row; else the _cols kernels, one
// thread per (outer, inner).
template <typename T, bool kByRows, typename F, typename B>
void softmax_case(const F& forward, const B& backward, const AxisView& v, bool log) {
    const std::string what = (log ? "log " : "") + v.describe();
    auto shapes = kByRows ? per_block(v.rows(), kThreads) : per_element(v.rows());
    std::vector<T> x = uniform<T>(v.size(), -4, 4);
    plant_specials(x, v);
    check(forward.name, what, shapes, softmax_reference(x, v, log), [&](Buffers& b, const LaunchShape& s) {
        const T* xd = b.input("x", x);
        T* y = b.output<T>("y", v.size());
        if constexpr (kByRows) launch(forward.fn, s.grid, s.block, xd, y, v.rows(), v.axis, (int)log);
        else launch(forward.fn, s.grid, s.block, xd, y, v.outer, v.axis, v.inner, (int)log);
    });

    // the backward pass reads a real (log-)softmax output
    std::vector<double> y_exact = softmax_reference(uniform<T>(v.size(), -4, 4), v, log).values;
    std::vector<T> y(y_exact.begin(), y_exact.end());
    std::vector<T> g = uniform<T>(v.size(), -1, 1);
    if (v.rows() > 1 && v.axis > 1) g[v.at(1, 1)] = kNaN<T>;
    check(backward.name, what, shapes, softmax_backward_reference(y, g, v, log), [&](Buffers& b, const LaunchShape& s) {
        const T* yd = b.input("y", y);
        const T* gd = b.input("g", g);
        T* out = b.output<T>("out", v.size());
        if constexpr (kByRows) launch(backward.fn, s.grid, s.block, yd, gd, out, v.rows(), v.axis, (int)log);
        else launch(backward.fn, s.grid, s.block, yd, gd, out, v.outer, v.axis, v.inner, (int)log);
    });
}

template <typename T> void test_softmax() {
    const AxisView rows[] = {{1, 64, 1}, {5, 100, 1}, {2, 1000, 1}};
    const AxisView columns[] = {{1, 5, 1}, {3, 63, 1}, {2, 7, 3}, {4, 1, 5}, {5, 70, 2}};
    for (bool log : {false, true}) {
        for (const AxisView& v : rows)
            softmax_case<T, true>(KERNEL(T, softmax_rows), KERNEL(T, softmax_backward_rows), v, log);
        for (const AxisView& v : columns)
            softmax_case<T, false>(KERNEL(T, softmax_cols), KERNEL(T, softmax_backward_cols), v, log);
    }
}

// ============================================================================ cross-entropy

// As the cpu backend's Reductions.crossEntropy (double, in class order): loss, or the gradient.
template <typename T> Expected cross_entropy_reference(const std::vector<T>& x, const std::vector<T>& labels,
                                                       const std::vector<T>* g, i64 rows, int classes, Tolerance tol) {
    Expected e{{}, tol, {}};
    for (i64 r = 0; r < rows; r++) {
        const T* row = &x[r * classes];
        double m = -INFINITY;
        for (int c = 0; c < classes; c++) m = max_reference(m, (double)row[c]);
        double s = 0;
        for (int c = 0; c < classes; c++) s += std::exp((double)row[c] - m);
        int label = (int)labels[r];
        if (g == nullptr) {
            e.values.push_back((double)(T)(std::log(s) + m - (double)row[label]));
            e.scale.push_back(std::fabs(std::log(s)) + std::fabs(m) + std::fabs((double)row[label]));
        } else {
            double gr = (double)(*g)[r];
            for (int c = 0; c < classes; c++) {
                double p = std::exp((double)row[c] - m) / s;
                e.values.push_back((double)(T)(gr * (p - (c == label ? 1.0 : 0.0))));
                e.scale.push_back(std::fabs(gr));
            }
        }
    }
    return e;
}

template <typename T> void test_cross_entropy() {
    struct Case {
        i64 rows;
        int classes;
    };
    // the warp kernels serve classes >= CudaBackend.SMALL_ROW (64), but must work for any count
    const Case warp_cases[] = {{1, 64}, {5, 65}, {9, 100}, {3, 200}, {4, 5}};
    const Case small_cases[] = {{1, 1}, {7, 2}, {300, 10}, {5, 63}};
    auto forward_warp = KERNEL(T, cross_entropy);
    auto backward_warp = KERNEL(T, cross_entropy_backward);
    auto forward_small = KERNEL(T, cross_entropy_small);
    auto backward_small = KERNEL(T, cross_entropy_small_backward);
    for (bool small : {false, true}) {
        // one thread per row promises the cpu's summation order, so the cpu's bits
        Tolerance tol = small ? kExact : kSummed<T>;
        for (Case c : small ? std::vector<Case>(std::begin(small_cases), std::end(small_cases))
                            : std::vector<Case>(std::begin(warp_cases), std::end(warp_cases))) {
            std::vector<T> x = uniform<T>(c.rows * c.classes, -5, 5);
            std::vector<T> labels = small_integers<T>(c.rows, c.classes);
            if (c.rows > 1) x[1 * c.classes + c.classes / 2] = -kInf<T>;
            if (c.rows > 2) x[2 * c.classes + (int)labels[2]] = -kInf<T>; // the label's logit: infinite loss
            if (c.rows > 3) x[3 * c.classes] = kNaN<T>;
            std::vector<T> g = uniform<T>(c.rows, -2, 2);
            std::string what = "rows=" + std::to_string(c.rows) + " classes=" + std::to_string(c.classes);
            auto shapes = small ? per_element(c.rows) : per_warp(c.rows);
            auto forward = small ? forward_small : forward_warp;
            check(forward.name, what, shapes, cross_entropy_reference<T>(x, labels, nullptr, c.rows, c.classes, tol),
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* xd = b.input("x", x);
                      const T* ld = b.input("labels", labels);
                      T* loss = b.output<T>("loss", c.rows);
                      launch(forward.fn, s.grid, s.block, xd, ld, loss, c.rows, c.classes);
                  });
            auto backward = small ? backward_small : backward_warp;
            check(backward.name, what, shapes, cross_entropy_reference<T>(x, labels, &g, c.rows, c.classes, tol),
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* xd = b.input("x", x);
                      const T* ld = b.input("labels", labels);
                      const T* gd = b.input("g", g);
                      T* out = b.output<T>("out", c.rows * c.classes);
                      launch(backward.fn, s.grid, s.block, xd, ld, gd, out, c.rows, c.classes);
                  });
        }
    }
}

// The mean loss as CudaBackend composes it without the fused kernel: the per-row kernel, reduce
// (one warp below LONG_ROW rows, a block of 1024 from there), unary MUL_SCALAR by (T)(1/rows).
// What the fused mean kernels must equal bit for bit; the composed kernels are checked above.
template <typename T> T composed_mean_loss(const std::vector<T>& x, const std::vector<T>& labels, i64 rows, int classes) {
    std::vector<T> per_row(rows), sum(1), mean(1);
    if (classes < CE_SMALL_ROW) {
        launch(KERNEL(T, cross_entropy_small).fn, per_element(rows)[0].grid, dim3(kThreads), x.data(), labels.data(),
               per_row.data(), rows, classes);
    } else {
        launch(KERNEL(T, cross_entropy).fn, per_warp(rows)[0].grid, dim3(kThreads), x.data(), labels.data(),
               per_row.data(), rows, classes);
    }
    if (rows < CE_MEAN_CHUNK) {
        launch(KERNEL(T, reduce_rows).fn, dim3(1), dim3(kThreads), (int)R_SUM, (const T*)per_row.data(), sum.data(),
               (i64)1, (int)rows);
    } else {
        launch(KERNEL(T, reduce_rows_block).fn, dim3(1), dim3(kLongRowThreads), (int)R_SUM, (const T*)per_row.data(),
               sum.data(), (i64)1, (int)rows);
    }
    launch(KERNEL(T, unary).fn, dim3(1), dim3(kThreads), (int)U_MUL_SCALAR, (T)(1.0 / (double)rows),
           (const T*)sum.data(), mean.data(), (i64)1);
    return mean[0];
}

// Its gradient composed: unary_backward MUL_SCALAR of the scalar, broadcast, the per-row gradient.
template <typename T> std::vector<T> composed_mean_gradient(const std::vector<T>& x, const std::vector<T>& labels, T g,
                                                            i64 rows, int classes) {
    std::vector<T> gs{g}, scaled(1), out(rows * classes);
    launch(KERNEL(T, unary_backward).fn, dim3(1), dim3(kThreads), (int)U_MUL_SCALAR, (T)(1.0 / (double)rows),
           (const T*)gs.data(), (const T*)gs.data(), (const T*)gs.data(), scaled.data(), (i64)1);
    std::vector<T> per_row(rows, scaled[0]);
    if (classes < CE_SMALL_ROW) {
        launch(KERNEL(T, cross_entropy_small_backward).fn, per_element(rows)[0].grid, dim3(kThreads), x.data(),
               labels.data(), (const T*)per_row.data(), out.data(), rows, classes);
    } else {
        launch(KERNEL(T, cross_entropy_backward).fn, per_warp(rows)[0].grid, dim3(kThreads), x.data(), labels.data(),
               (const T*)per_row.data(), out.data(), rows, classes);
    }
    return out;
}

// The fused mean and its gradient against the composition, exactly: row counts on both sides of
// LONG_ROW (the composed sum's warp or block) and of a chunk, classes on both sides of SMALL_ROW,
// an infinite loss and a NaN row; and the composition itself near the double reference.
template <typename T> void test_cross_entropy_mean() {
    struct Case {
        i64 rows;
        int classes;
    };
    // CudaBackend fuses up to 2^13 logits; the kernel itself takes any batch, and larger ones here
    // reach its chunks and both summation orders with either row path
    const Case cases[] = {{1, 1},     {5, 10},   {128, 10},  {300, 63},  {33, 64},   {7, 100},  {4095, 10},
                          {4096, 2},  {4100, 1}, {5000, 10}, {9000, 2},  {3000, 70}, {4500, 65}};
    auto forward = KERNEL(T, cross_entropy_mean);
    auto backward_small = KERNEL(T, cross_entropy_small_mean_backward);
    auto backward_warp = KERNEL(T, cross_entropy_mean_backward);
    for (Case c : cases) {
        std::vector<T> x = uniform<T>(c.rows * c.classes, -5, 5);
        std::vector<T> labels = small_integers<T>(c.rows, c.classes);
        // losses from about 1 to 1e16 (label logits pushed down): sums of values of like size come
        // out the same in any order; these round differently in another order
        for (i64 r = 0; r < c.rows; r += 3) x[r * c.classes + (int)labels[r]] = -(T)std::pow(10.0, (double)(r % 17));
        // an infinite loss (an infinite mean) and a NaN row (a NaN mean) in a few cases only: either
        // hides the order of the sum, which the finite cases check
        if (c.rows == 128) x[2 * c.classes + (int)labels[2]] = -kInf<T>;
        if (c.rows == 5) x[3 * c.classes] = kNaN<T>;
        std::string what = "rows=" + std::to_string(c.rows) + " classes=" + std::to_string(c.classes);
        T scale = (T)(1.0 / (double)c.rows);

        T composed = composed_mean_loss(x, labels, c.rows, c.classes);
        if (c.rows <= 7 && c.rows != 5) {
            Expected reference = cross_entropy_reference<T>(x, labels, nullptr, c.rows, c.classes, kSummed<T>);
            double total = 0;
            for (double v : reference.values) total += v;
            if (!within((double)composed, total / (double)c.rows, kSingle<T>, kSummed<T>, std::fabs(total)))
                report_failure("composed mean cross-entropy " + what + ": " + format_value(composed, kSingle<T>) +
                               " against the double reference " + format_value(total / c.rows, kSingle<T>));
        }
        std::vector<LaunchShape> one_block{{dim3(1), dim3(CE_MEAN_THREADS), "as CudaBackend.crossEntropyMean"}};
        check(forward.name, what, one_block, Expected{{(double)composed}, kExact, {}},
              [&](Buffers& b, const LaunchShape& s) {
                  const T* xd = b.input("x", x);
                  const T* ld = b.input("labels", labels);
                  T* loss = b.output<T>("loss", 1);
                  launch(forward.fn, s.grid, s.block, xd, ld, loss, scale, c.rows, c.classes);
              });

        T g = (T)(kSingle<T> ? 0.7f : 0.7); // upstream gradient of the mean
        std::vector<T> gradient = composed_mean_gradient(x, labels, g, c.rows, c.classes);
        bool small = c.classes < CE_SMALL_ROW;
        auto backward = small ? backward_small : backward_warp;
        std::vector<T> gv{g};
        check(backward.name, what, small ? per_element(c.rows) : per_warp(c.rows), Expected{widen(gradient), kExact, {}},
              [&](Buffers& b, const LaunchShape& s) {
                  const T* xd = b.input("x", x);
                  const T* ld = b.input("labels", labels);
                  const T* gd = b.input("g", gv);
                  T* out = b.output<T>("out", c.rows * c.classes);
                  launch(backward.fn, s.grid, s.block, xd, ld, gd, scale, out, c.rows, c.classes);
              });
    }
}

// ============================================================================ dropout

// CounterStream.bits's values for a few (seed, counter), printed by the Java class: the kernel's
// draw must be Java's, or a seed would drop other elements on the GPU than on the cpu.
void test_counter_stream_known_answers() {
    struct Known {
        long long seed, counter;
        u64 bits;
    };
    const Known known[] = {
        {0LL, 0LL, 0x6db6ca64564daeaaull},
        {1LL, 0LL, 0x5cc60547776902baull},
        {1LL, 1LL, 0x5bf9f33c5098100cull},
        {-1LL, 123456789LL, 0x36863b5ad49f1781ull},
        {-2691343689449507770LL, 5000000000LL, 0xb620f597f0b61a3bull},
    };
    summary.cases++;
    for (const Known& k : known) {
        u64 got = counter_stream_bits((u64)k.seed, (u64)k.counter);
        if (got != k.bits) {
            char line[160];
            std::snprintf(line, sizeof line, "counter_stream_bits(%lld, %lld) = 0x%016llx, Java's CounterStream.bits gives 0x%016llx",
                          k.seed, k.counter, got, k.bits);
            report_failure(line);
        }
    }
}

// The kernel compares the draw's top 53 bits with keep_from in integers; the reference keeps an
// element as Dropout's contract says, uniform = k * 2^-53 >= p in doubles, and multiplies in T.
template <typename T> Expected dropout_reference(u64 seed, double p, const std::vector<T>& x) {
    Expected e{{}, kExact, {}};
    T kept = (T)(1.0 / (1.0 - p));
    for (size_t i = 0; i < x.size(); i++) {
        double u = (double)(counter_stream_bits(seed, (u64)i) >> 11) * 0x1p-53;
        T m = u >= p ? kept : T(0);
        e.values.push_back((double)(T)(x[i] * m));
    }
    return e;
}

template <typename T> void test_dropout() {
    auto kernel = KERNEL(T, dropout);
    const u64 seeds[] = {1, (u64)-5LL, 0x9E3779B97F4A7C15ull * 7};
    const i64 lengths[] = {1, 7, 1000, 4099};
    std::vector<double> ps = {0.0, 0.3, 0.5, 0.999};
    // p exactly at a draw keeps that element; the next double above it drops it
    double at = (double)(counter_stream_bits(seeds[0], 3) >> 11) * 0x1p-53;
    ps.push_back(at);
    ps.push_back(std::nextafter(at, 1.0));
    for (u64 seed : seeds) {
        for (i64 n : lengths) {
            for (double p : ps) {
                std::vector<T> x = with_specials(uniform<T>(n, -3, 3));
                u64 keep_from = (u64)std::ceil(p * 0x1p53); // CounterStream.keepFrom
                char what[96];
                std::snprintf(what, sizeof what, "seed=%llu n=%lld p=%.17g", seed, n, p);
                check(kernel.name, what, per_element(n), dropout_reference<T>(seed, p, x),
                      [&](Buffers& b, const LaunchShape& s) {
                          const T* xd = b.input("x", x);
                          T* out = b.output<T>("out", n);
                          launch(kernel.fn, s.grid, s.block, seed, keep_from, (T)(1.0 / (1.0 - p)), xd, out, n);
                      });
            }
        }
    }
}

// ============================================================================ GEMM

struct GemmCase {
    const char* name;
    int batch, m, n, k;
    bool shared_a, shared_b; // batch stride 0: one matrix for every batch entry
    int pad;                 // lda and ldb exceed the minimum by this much
    int batches_per_launch;  // CudaBackend splits the batch at 65535 / splits; here smaller, to test batchBase
};

// One of the GEMM kernels, with the tile GemmPlan launches it with. The 64-tile kernels take a
// bias (with_bias), the 128-tile ones do not (plain).
template <typename T> struct GemmKernel {
    void (*with_bias)(GemmArgs, const T*, const T*, T*, const T*);
    void (*plain)(GemmArgs, const T*, const T*, T*);
    std::string name;
    int tile;
    Tolerance tolerance;
};

template <typename T> std::vector<GemmKernel<T>> gemm_kernels() {
    if constexpr (kSingle<T>) {
        return {{gemm_f32, nullptr, "gemm_f32", 64, kGemm<T>},
                {nullptr, gemm128_f32, "gemm128_f32", 128, kGemm<T>},
                // inputs rounded to 10 mantissa bits: each product off by about 2^-10 of its size
                {nullptr, gemm_tf32, "gemm_tf32", 128, relative(2e-3)}};
    } else {
        return {{gemm_f64, nullptr, "gemm_f64", 64, kGemm<T>}};
    }
}

// Launches as CudaBackend.matmul does for a GemmPlan of `splits` slices of `k_chunk`: the GEMM over
// grid (n tiles, m tiles, batches x splits), into C directly or into a workspace that
// gemm_splitk_sum then adds up; with a bias (n elements) or without (null). Reports a failure when
// the workspace's guards were hit.
template <typename T> void run_gemm(const GemmKernel<T>& kern, const GemmCase& c, int trans_a, int trans_b, int lda, int ldb,
                                    i64 stride_a, i64 stride_b, int splits, int k_chunk, const T* a, const T* b, T* out,
                                    const LaunchShape& s, const std::string& where, const T* bias = nullptr) {
    i64 mn = (i64)c.m * c.n;
    std::unique_ptr<GuardedBuffer<T>> workspace;
    if (splits > 1) workspace = std::make_unique<GuardedBuffer<T>>((size_t)(splits * c.batches_per_launch * mn), 0);
    // the launch shape's grid.y row tiles per launch (CudaBackend: up to 65535), counted from rowTileBase
    int row_tiles = (c.m + kern.tile - 1) / kern.tile;
    for (int base = 0; base < c.batch; base += c.batches_per_launch) {
        int count = std::min(c.batches_per_launch, c.batch - base);
        for (int row_tile = 0; row_tile < std::max(row_tiles, 1); row_tile += (int)s.grid.y) {
            GemmArgs g{trans_a, trans_b, c.m, c.n, c.k, lda, ldb, splits, k_chunk, row_tile, stride_a, stride_b, (i64)base};
            dim3 grid = s.grid;
            grid.y = std::min((int)s.grid.y, std::max(row_tiles, 1) - row_tile);
            grid.z = count * splits;
            T* c_or_workspace = splits > 1 ? workspace->data() : out;
            if (kern.with_bias) launch(kern.with_bias, grid, s.block, g, a, b, c_or_workspace, bias);
            else launch(kern.plain, grid, s.block, g, a, b, c_or_workspace);
        }
        if (splits > 1) {
            auto sum = KERNEL(T, gemm_splitk_sum);
            i64 total = count * mn;
            launch(sum.fn, dim3(capped((total + kThreads - 1) / kThreads)), dim3(kThreads), (const T*)workspace->data(), out,
                   mn, splits, total, (i64)base, bias, c.n);
        }
    }
    if (workspace) {
        std::string damage = workspace->guard_damage();
        if (!damage.empty()) report_failure(where + ": split-K workspace: " + damage);
    }
}

template <typename T> void test_gemm() {
    const GemmCase cases[] = {
        {"1x1x1", 1, 1, 1, 1, false, false, 0, 1},
        {"3x5x2", 1, 3, 5, 2, false, false, 0, 1},
        {"one tile", 1, 64, 64, 16, false, false, 0, 1},
        {"tile + 1", 1, 65, 63, 17, false, false, 0, 1},
        {"130x150x70", 1, 130, 150, 70, false, false, 0, 1},
        {"whole 128 tiles, k 40", 1, 128, 256, 40, false, false, 0, 1},
        {"129x131x33", 1, 129, 131, 33, false, false, 0, 1},
        {"batch 3, shared A", 3, 5, 7, 9, true, false, 0, 3},
        {"batch 3, shared B", 3, 33, 17, 20, false, true, 0, 3},
        {"batch 3 in launches of 2 (batchBase)", 3, 17, 9, 31, false, false, 0, 2},
        {"padded lda, ldb", 2, 19, 21, 23, false, false, 3, 2},
        {"padded by 4 (vector loads at an offset)", 1, 140, 132, 24, false, false, 4, 1},
    };
    auto sum_kernel = KERNEL(T, gemm_splitk_sum);
    for (const GemmKernel<T>& kern : gemm_kernels<T>()) {
        for (const GemmCase& c : cases) {
            for (int trans_a : {0, 1}) {
                for (int trans_b : {0, 1}) {
                    // stored shapes: A m x k (k x m transposed), B k x n (n x k transposed), row-major
                    int lda = (trans_a ? c.m : c.k) + c.pad;
                    int ldb = (trans_b ? c.k : c.n) + c.pad;
                    i64 a_size = (i64)(trans_a ? c.k : c.m) * lda, b_size = (i64)(trans_b ? c.n : c.k) * ldb;
                    i64 stride_a = c.shared_a ? 0 : a_size, stride_b = c.shared_b ? 0 : b_size;
                    std::vector<T> a = uniform<T>(c.shared_a ? a_size : a_size * c.batch, -1, 1);
                    std::vector<T> bm = uniform<T>(c.shared_b ? b_size : b_size * c.batch, -1, 1);
                    Expected e{{}, kern.tolerance, {}};
                    for (int bi = 0; bi < c.batch; bi++) {
                        for (int i = 0; i < c.m; i++) {
                            for (int j = 0; j < c.n; j++) {
                                double sum = 0, magnitude = 0;
                                for (int kk = 0; kk < c.k; kk++) {
                                    double av = a[bi * stride_a + (trans_a ? (i64)kk * lda + i : (i64)i * lda + kk)];
                                    double bv = bm[bi * stride_b + (trans_b ? (i64)j * ldb + kk : (i64)kk * ldb + j)];
                                    sum += av * bv;
                                    magnitude += std::fabs(av * bv);
                                }
                                e.values.push_back((double)(T)sum);
                                e.scale.push_back(magnitude);
                            }
                        }
                    }
                    LaunchShape shape{dim3((c.n + kern.tile - 1) / kern.tile, (c.m + kern.tile - 1) / kern.tile, 1),
                                      dim3(kThreads), "as matmul"};
                    // and one row tile per launch: what CudaBackend does past 65535 row tiles (rowTileBase)
                    LaunchShape row_by_row{dim3(shape.grid.x, 1, 1), dim3(kThreads), "one row tile per launch"};
                    std::string what = std::string(c.name) + (trans_a ? " A^T" : " A") + (trans_b ? " B^T" : " B");
                    // whole k in one slice (kChunk rounded up to GemmPlan.K_STEP = 16), then split-K in slices
                    // of 16 where k has more than one
                    std::vector<std::pair<int, int>> plans = {{1, ((c.k + 15) / 16) * 16}};
                    if (c.k > 16) plans.push_back({(c.k + 15) / 16, 16});
                    for (auto [splits, k_chunk] : plans) {
                        std::string name = splits > 1 ? kern.name + "+" + sum_kernel.name : kern.name;
                        summary.kernels.insert(kern.name);
                        if (splits > 1) summary.kernels.insert(sum_kernel.name);
                        std::string plan = splits > 1 ? " split-K " + std::to_string(splits) + "x" + std::to_string(k_chunk) : "";
                        std::vector<LaunchShape> shapes{shape};
                        if (shape.grid.y > 1) shapes.push_back(row_by_row);
                        check_launches(name, what + plan, shapes, e, [&](Buffers& b, const LaunchShape& s) {
                            const T* ad = b.input("A", a);
                            const T* bd = b.input("B", bm);
                            T* out = b.output<T>("C", (size_t)c.batch * c.m * c.n);
                            run_gemm(kern, c, trans_a, trans_b, lda, ldb, stride_a, stride_b, splits, k_chunk, ad, bd, out, s,
                                     name + " [" + what + plan + "]");
                        });
                        // the bias epilogue does not depend on the layout; the 128-tile kernels take none
                        if (trans_a != trans_b || kern.with_bias == nullptr) continue;
                        // with a bias (CudaBackend.matmulBias): exactly the product above plus the
                        // bias in T, one add per element, in every kernel, vector and scalar stores
                        // and split-K (where only the sum may add it)
                        std::vector<T> bias = uniform<T>(c.n, -2, 2);
                        bias[0] = -T(0);
                        std::vector<T> product((size_t)c.batch * c.m * c.n);
                        run_gemm(kern, c, trans_a, trans_b, lda, ldb, stride_a, stride_b, splits, k_chunk, a.data(), bm.data(),
                                 product.data(), shape, name + " [" + what + plan + ", product for the bias case]");
                        Expected with_bias{{}, kExact, {}};
                        for (size_t i = 0; i < product.size(); i++) with_bias.values.push_back((double)(T)(product[i] + bias[i % c.n]));
                        check_launches(name, what + plan + " + bias", shapes, with_bias, [&](Buffers& b, const LaunchShape& s) {
                            const T* ad = b.input("A", a);
                            const T* bd = b.input("B", bm);
                            const T* biasd = b.input("bias", bias);
                            T* out = b.output<T>("C", (size_t)c.batch * c.m * c.n);
                            run_gemm(kern, c, trans_a, trans_b, lda, ldb, stride_a, stride_b, splits, k_chunk, ad, bd, out, s,
                                     name + " [" + what + plan + " + bias]", biasd);
                        });
                    }
                }
            }
        }
    }
}

// ============================================================================ row-broadcast binary

struct RowsCase {
    const char* name;
    i64 rows, cols;
    i64 a_row;
    int a_step;
    i64 b_row;
    int b_step;
    size_t offset; // of every buffer from its 256-byte boundary, in elements
};

template <typename T> void test_binary_rows() {
    auto k = KERNEL(T, binary_rows);
    const RowsCase cases[] = {
        {"bias add [9,1024] + [1024]", 9, 1024, 1024, 1, 0, 1, 0},
        {"bias add [7,1027] + [1027] (rows start unaligned)", 7, 1027, 1027, 1, 0, 1, 0},
        {"row scale [5,300] * [5,1]", 5, 300, 1, 0, 300, 1, 0},
        {"padded rows of a", 6, 260, 263, 1, 0, 1, 0},
        {"misaligned buffers", 4, 515, 515, 1, 0, 1, 1},
        {"both operands per-row scalars", 3, 129, 1, 0, 2, 0, 0},
        {"many rows, short", 70, 130, 130, 1, 0, 1, 2},
    };
    for (int op = B_ADD; op <= B_DIV; op++) {
        for (const RowsCase& c : cases) {
            auto extent = [&](i64 row, int step) { return (size_t)((c.rows - 1) * row + (c.cols - 1) * step + 1); };
            std::vector<T> a = with_specials(uniform<T>(extent(c.a_row, c.a_step), -3, 3));
            std::vector<T> bv = uniform<T>(extent(c.b_row, c.b_step), -3, 3);
            size_t n = (size_t)(c.rows * c.cols);
            std::vector<T> expected(n);
            for (i64 r = 0; r < c.rows; r++) {
                for (i64 col = 0; col < c.cols; col++) {
                    expected[r * c.cols + col] =
                        binary_reference(op, a[r * c.a_row + col * c.a_step], bv[r * c.b_row + col * c.b_step]);
                }
            }
            // CudaBackend.binary: x over column chunks of 1024, y over rows (at most 65535)
            LaunchShape backend{dim3(capped((c.cols + kThreads * 4 - 1) / (kThreads * 4)), (unsigned)std::min<i64>(65535, c.rows)),
                                dim3(kThreads), "as binary (rows)"};
            std::vector<LaunchShape> shapes{backend, {dim3(1, 1), dim3(kThreads), "1 block"},
                                            {dim3(2, 3), dim3(kThreads), "2 x 3 blocks"}};
            check(k.name, std::string(kBinaryNames[op]) + " " + c.name, shapes, {widen(expected), kExact, {}},
                  [&](Buffers& b, const LaunchShape& s) {
                      const T* ad = b.input("a", a, c.offset);
                      const T* bd = b.input("b", bv, c.offset);
                      T* out = b.output<T>("out", n, c.offset);
                      launch(k.fn, s.grid, s.block, op, ad, c.a_row, c.a_step, bd, c.b_row, c.b_step, out, c.rows, c.cols);
                  });
        }
    }
}

// ---------------------------------------------------------------------------- integer and bool tensors

// fill_i32 / fill_i64 / fill_u8 write one value everywhere (BOOL: the int argument's truth).
void test_fill_integers() {
    for (const Layout& l : kContiguousLayouts) {
        for (int value : {0, -7, 2147483647}) {
            check("fill_i32", l.describe() + " value=" + std::to_string(value), per_element(l.n),
                  {widen(std::vector<int>(l.n, value)), kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
                      launch(fill_i32, s.grid, s.block, b.output<int>("out", l.n, l.out_offset), (i64)l.n, value);
                  });
        }
        for (long long value : {0LL, -7LL, 1LL << 40}) {
            check("fill_i64", l.describe() + " value=" + std::to_string(value), per_element(l.n),
                  {widen(std::vector<long long>(l.n, value)), kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
                      launch(fill_i64, s.grid, s.block, b.output<long long>("out", l.n, l.out_offset), (i64)l.n, (i64)value);
                  });
        }
        for (int value : {0, 1}) {
            check("fill_u8", l.describe() + " value=" + std::to_string(value), per_element(l.n),
                  {widen(std::vector<unsigned char>(l.n, (unsigned char)value)), kExact, {}},
                  [&](Buffers& b, const LaunchShape& s) {
                      launch(fill_u8, s.grid, s.block, b.output<unsigned char>("out", l.n, l.out_offset), (i64)l.n, value);
                  });
        }
    }
}

// Java's casts, written out independently of the kernel: (int) and (long) of a double saturate,
// take NaN to 0 and round toward zero; (int) of a long keeps its low 32 bits; to BOOL is != 0.
template <typename To> To java_cast_real(double x) {
    if constexpr (std::is_same_v<To, float>) return (float)x;
    else if constexpr (std::is_same_v<To, double>) return x;
    else if constexpr (std::is_same_v<To, unsigned char>) return x != 0.0 ? 1 : 0;
    else {
        using Limits = std::numeric_limits<To>;
        if (std::isnan(x)) return 0;
        if (x >= std::ldexp(1.0, Limits::digits)) return Limits::max();
        if (x < -std::ldexp(1.0, Limits::digits)) return Limits::min();
        return (To)std::trunc(x);
    }
}
template <typename To> To java_cast_whole(long long v) {
    if constexpr (std::is_same_v<To, unsigned char>) return v != 0 ? 1 : 0;
    else if constexpr (std::is_same_v<To, int>) return (int)(std::uint32_t)(std::uint64_t)v;
    else return (To)v;
}

template <typename T> constexpr int kDtypeCode = std::is_same_v<T, float> ? 0 : std::is_same_v<T, double> ? 1
                                                : std::is_same_v<T, int> ? 2 : std::is_same_v<T, long long> ? 3 : 4;
template <typename T> const char* dtype_label() {
    const char* names[] = {"f32", "f64", "i32", "i64", "bool"};
    return names[kDtypeCode<T>];
}

template <typename T> std::vector<T> cast_sources(size_t n) {
    std::vector<T> v(n);
    if constexpr (std::is_floating_point_v<T>) {
        v = uniform<T>(n, -1e3, 1e3);
        const T specials[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                              -std::numeric_limits<T>::infinity(), (T)3e9, (T)-3e9, (T)1e19, (T)-1e19, (T)-0.0,
                              (T)2.9999, (T)-2.9999, (T)0.5};
        for (size_t i = 0; i < n && i < std::size(specials); i++) v[i] = specials[i];
    } else if constexpr (std::is_same_v<T, unsigned char>) {
        for (size_t i = 0; i < n; i++) v[i] = (unsigned char)(i % 3 == 0);
    } else {
        for (size_t i = 0; i < n; i++) v[i] = (T)((long long)i * 2654435761LL - (T)1000);
        const long long specials[] = {0, -1, 2147483647LL, -2147483648LL, 4294967297LL, -4294967297LL,
                                      9007199254740993LL, 9223372036854775807LL};
        for (size_t i = 0; i < n && i < std::size(specials); i++) v[i] = (T)specials[i];
    }
    return v;
}

template <typename From, typename To> void test_cast_any_pair() {
    if constexpr (std::is_floating_point_v<From> && std::is_floating_point_v<To>) {
        return; // cast_f2d / cast_d2f
    } else {
        for (const Layout& l : kContiguousLayouts) {
            std::vector<From> src = cast_sources<From>(l.n);
            std::vector<To> expected(l.n);
            for (size_t i = 0; i < l.n; i++) {
                if constexpr (std::is_floating_point_v<From>) expected[i] = java_cast_real<To>((double)src[i]);
                else if constexpr (std::is_floating_point_v<To>) expected[i] = (To)(long long)src[i];
                else expected[i] = java_cast_whole<To>((long long)src[i]);
            }
            check("cast_any", std::string(dtype_label<From>()) + " -> " + dtype_label<To>() + " " + l.describe(),
                  per_element(l.n), {widen(expected), kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
                      const From* in = b.input("src", src, l.in_offset);
                      To* out = b.output<To>("dst", l.n, l.out_offset);
                      launch(cast_any, s.grid, s.block, (const void*)in, kDtypeCode<From>, (void*)out, kDtypeCode<To>,
                             (i64)l.n);
                  });
        }
    }
}
template <typename From> void test_cast_any_from() {
    test_cast_any_pair<From, float>();
    test_cast_any_pair<From, double>();
    test_cast_any_pair<From, int>();
    test_cast_any_pair<From, long long>();
    test_cast_any_pair<From, unsigned char>();
}

// strided_copy_i32 / _i64 / _u8: the layouts of test_strided_copy, moving integer bit patterns.
template <typename T> void test_strided_copy_integers(void (*kernel)(const T*, i64, T*, i64, i64, int, Dims, Dims, Dims),
                                                      const char* name) {
    const i64 src_off = 3;
    for (const StridedCase& c : strided_cases()) {
        i64 n = elements(c.shape);
        std::vector<T> src = cast_sources<T>(storage_for(c.shape, c.a) + src_off);
        std::vector<int> reversed;
        for (size_t ax = c.shape.size(); ax-- > 0;) reversed.push_back((int)ax);
        std::vector<i64> dst_strides = permuted(c.shape, reversed);
        std::vector<T> expected(n);
        for (i64 i = 0; i < n; i++) expected[offset_of(i, c.shape, dst_strides)] = src[src_off + offset_of(i, c.shape, c.a)];
        check(name, std::string(c.name) + ", into a transposed view", per_element(n), {widen(expected), kExact, {}},
              [&](Buffers& b, const LaunchShape& s) {
                  const T* in = b.input("src", src);
                  T* out = b.output<T>("dst", n);
                  launch(kernel, s.grid, s.block, in, src_off, out, (i64)0, n, (int)c.shape.size(), dims_of(c.shape),
                         dims_of(c.a), dims_of(dst_strides));
              });
    }
}

void test_integer_kernels() {
    test_fill_integers();
    test_cast_any_from<float>();
    test_cast_any_from<double>();
    test_cast_any_from<int>();
    test_cast_any_from<long long>();
    test_cast_any_from<unsigned char>();
    test_strided_copy_integers<int>(strided_copy_i32, "strided_copy_i32");
    test_strided_copy_integers<long long>(strided_copy_i64, "strided_copy_i64");
    test_strided_copy_integers<unsigned char>(strided_copy_u8, "strided_copy_u8");
}

// ============================================================================ argmax and indexing

// Values for the indexing kernels of any dtype: floats with ties and specials, integers small.
template <typename T> std::vector<T> index_values(size_t n) {
    if constexpr (std::is_floating_point_v<T>) return with_specials(small_integers<T>(n, 5));
    else if constexpr (std::is_same_v<T, unsigned char>) return small_integers<T>(n, 2);
    else return small_integers<T>(n, 1000);
}

struct IndexCase {
    i64 outer;
    int axis;
    int count;
    i64 inner;
    bool broadcast; // one index row for every o and i (indexSelect, embedding): strides {0, 1, 0}
};
const IndexCase kIndexCases[] = {
    {1, 1, 1, 1, false}, {3, 7, 5, 1, false}, {2, 5, 9, 3, false}, {4, 6, 6, 5, false}, {1, 65, 300, 1, true},
    {2, 9, 40, 33, true}, {1, 4, 0, 3, false}, {3, 300, 17, 2, false},
};

std::vector<i64> index_strides(const IndexCase& c) {
    if (c.broadcast) return {0, 1, 0};
    return {(i64)c.count * c.inner, c.inner, 1};
}
i64 index_length(const IndexCase& c) { return c.broadcast ? std::max(1, c.count) : std::max<i64>(1, c.outer * c.count * c.inner); }
std::vector<long long> random_indices(size_t n, int axis) {
    std::uniform_int_distribution<int> d(0, axis - 1);
    std::vector<long long> v(n);
    for (long long& k : v) k = d(rng);
    return v;
}
std::string describe(const IndexCase& c) {
    return "[outer=" + std::to_string(c.outer) + ", axis=" + std::to_string(c.axis) + ", count=" + std::to_string(c.count) +
           ", inner=" + std::to_string(c.inner) + (c.broadcast ? "], broadcast index" : "]");
}

// argmax: the FIRST largest, a NaN larger than everything (the first NaN wins).
template <typename T> void test_argmax() {
    auto k = KERNEL(T, argmax);
    const IndexCase cases[] = {{1, 1, 0, 1, false}, {3, 7, 0, 1, false}, {2, 5, 0, 3, false}, {1, 300, 0, 1, false},
                               {4, 33, 0, 64, false}};
    for (const IndexCase& c : cases) {
        std::vector<T> x = index_values<T>((size_t)(c.outer * c.axis * c.inner));
        std::vector<long long> expected((size_t)(c.outer * c.inner));
        for (i64 o = 0; o < c.outer; o++) {
            for (i64 i = 0; i < c.inner; i++) {
                int best = 0;
                for (int j = 0; j < c.axis; j++) {
                    T v = x[(o * c.axis + j) * c.inner + i];
                    T m = x[(o * c.axis + best) * c.inner + i];
                    if (std::isnan(m)) break;
                    if (std::isnan(v) || v > m) best = j;
                }
                expected[o * c.inner + i] = best;
            }
        }
        check(k.name, describe(c), per_element(c.outer * c.inner), {widen(expected), kExact, {}},
              [&](Buffers& b, const LaunchShape& s) {
                  const T* xd = b.input("x", x);
                  long long* out = b.output<long long>("out", expected.size());
                  launch(k.fn, s.grid, s.block, xd, out, c.outer, c.axis, c.inner);
              });
    }
}

// gather_<T>: out[o, j, i] = src[o, index, i]; the error slot, an input here, must stay zero.
template <typename T> void test_gather(void (*kernel)(const T*, int, const i64*, i64, i64, i64, T*, i64, int, i64, i64*),
                                       const char* name) {
    for (const IndexCase& c : kIndexCases) {
        std::vector<T> src = index_values<T>((size_t)(c.outer * c.axis * c.inner));
        std::vector<long long> index = random_indices((size_t)index_length(c), c.axis);
        std::vector<i64> st = index_strides(c);
        i64 n = c.outer * c.count * c.inner;
        std::vector<T> expected((size_t)n);
        for (i64 e = 0; e < n; e++) {
            i64 i = e % c.inner, j = (e / c.inner) % c.count, o = e / c.inner / c.count;
            expected[e] = src[(o * c.axis + index[o * st[0] + j * st[1] + i * st[2]]) * c.inner + i];
        }
        std::vector<long long> no_error(3, 0);
        check(name, describe(c), per_element(n), {widen(expected), kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
            const T* sd = b.input("src", src);
            const long long* id = b.input("index", index);
            long long* err = const_cast<long long*>(b.input("err", no_error));
            T* out = b.output<T>("out", (size_t)n);
            launch(kernel, s.grid, s.block, sd, c.axis, (const i64*)id, st[0], st[1], st[2], out, c.outer, c.count, c.inner,
                   (i64*)err);
        });
    }
    // a bad index is reported in the slot (op 0, the index, the axis) and skipped
    for (long long bad : {-1LL, 7LL}) {
        IndexCase c{2, 7, 3, 4, false};
        std::vector<T> src = index_values<T>((size_t)(c.outer * c.axis * c.inner));
        std::vector<long long> index = random_indices((size_t)index_length(c), c.axis);
        index[13] = bad;
        std::vector<i64> st = index_strides(c);
        std::vector<T> out((size_t)(c.outer * c.count * c.inner));
        check(name, "index " + std::to_string(bad) + " of an axis of 7", per_element((i64)out.size()),
              {{1.0, (double)bad, 7.0}, kExact, {}}, [&](Buffers& b, const LaunchShape& s) {
                  const T* sd = b.input("src", src);
                  const long long* id = b.input("index", index);
                  long long* err = b.in_out("err", std::vector<long long>(3, 0));
                  launch(kernel, s.grid, s.block, sd, c.axis, (const i64*)id, st[0], st[1], st[2], out.data(), c.outer,
                         c.count, c.inner, (i64*)err);
              });
    }
}

// scatter_add_<T>: out[o, index, i] += src[o, j, i] in j order (the reference adds in that order).
template <typename T> void test_scatter_add(void (*kernel)(const T*, const i64*, i64, i64, i64, T*, int, i64, int, i64, i64*),
                                            const char* name) {
    for (const IndexCase& c : kIndexCases) {
        std::vector<T> src = std::is_floating_point_v<T> ? uniform<T>((size_t)(c.outer * c.count * c.inner), -3, 3)
                                                         : index_values<T>((size_t)(c.outer * c.count * c.inner));
        std::vector<T> base = std::is_floating_point_v<T> ? uniform<T>((size_t)(c.outer * c.axis * c.inner), -3, 3)
                                                          : index_values<T>((size_t)(c.outer * c.axis * c.inner));
        std::vector<long long> index = random_indices((size_t)index_length(c), c.axis);
        std::vector<i64> st = index_strides(c);
        std::vector<T> expected = base;
        for (i64 o = 0; o < c.outer; o++)
            for (i64 i = 0; i < c.inner; i++)
                for (i64 j = 0; j < c.count; j++)
                    expected[(o * c.axis + index[o * st[0] + j * st[1] + i * st[2]]) * c.inner + i] +=
                        src[(o * c.count + j) * c.inner + i];
        std::vector<long long> no_error(3, 0);
        check(name, describe(c), per_element(c.outer * c.inner), {widen(expected), kExact, {}},
              [&](Buffers& b, const LaunchShape& s) {
                  const T* sd = b.input("src", src);
                  const long long* id = b.input("index", index);
                  long long* err = const_cast<long long*>(b.input("err", no_error));
                  T* out = b.in_out("out", base);
                  launch(kernel, s.grid, s.block, sd, (const i64*)id, st[0], st[1], st[2], out, c.axis, c.outer, c.count,
                         c.inner, (i64*)err);
              });
    }
    IndexCase c{2, 5, 4, 3, false};
    std::vector<T> src = index_values<T>((size_t)(c.outer * c.count * c.inner));
    std::vector<long long> index = random_indices((size_t)index_length(c), c.axis);
    index[5] = 5;
    std::vector<i64> st = index_strides(c);
    std::vector<T> out((size_t)(c.outer * c.axis * c.inner));
    check(name, "index 5 of an axis of 5", per_element(c.outer * c.inner), {{2.0, 5.0, 5.0}, kExact, {}},
          [&](Buffers& b, const LaunchShape& s) {
              const T* sd = b.input("src", src);
              const long long* id = b.input("index", index);
              long long* err = b.in_out("err", std::vector<long long>(3, 0));
              launch(kernel, s.grid, s.block, sd, (const i64*)id, st[0], st[1], st[2], out.data(), c.axis, c.outer, c.count,
                     c.inner, (i64*)err);
          });
}

// compare_<T> and where_<T> over broadcasting layouts: [3, 4] against a row, a column, a scalar;
// a transposed operand; rank 3 with a middle broadcast.
struct ThreeWay {
    const char* name;
    std::vector<i64> shape, c, a, b;
};
const ThreeWay kThreeWay[] = {
    {"[3,4], row b, column condition", {3, 4}, {1, 0}, {4, 1}, {0, 1}},
    {"[3,4], scalar a, transposed b", {3, 4}, {4, 1}, {0, 0}, {1, 3}},
    {"[2,3,5], middle broadcast", {2, 3, 5}, {5, 0, 1}, {15, 5, 1}, {0, 5, 1}},
    {"[257], contiguous", {257}, {1}, {1}, {1}},
    {"[0, 4], empty", {0, 4}, {4, 1}, {4, 1}, {0, 1}},
};
i64 reach(const std::vector<i64>& shape, const std::vector<i64>& strides) {
    i64 last = 0;
    for (size_t k = 0; k < shape.size(); k++) last += (shape[k] - 1) * strides[k];
    return std::max<i64>(1, last + 1);
}

template <typename T> void test_compare(void (*kernel)(int, const T*, const T*, unsigned char*, i64, int, Dims, Dims, Dims),
                                        const char* name) {
    for (const ThreeWay& l : kThreeWay) {
        i64 n = elements(l.shape);
        std::vector<T> a = index_values<T>((size_t)reach(l.shape, l.a));
        std::vector<T> b = index_values<T>((size_t)reach(l.shape, l.b));
        for (int op = 0; op < 6; op++) {
            std::vector<unsigned char> expected((size_t)n);
            for (i64 i = 0; i < n; i++) {
                T x = a[offset_of(i, l.shape, l.a)], y = b[offset_of(i, l.shape, l.b)];
                bool r = op == 0 ? x == y : op == 1 ? x != y : op == 2 ? x < y : op == 3 ? x <= y : op == 4 ? x > y : x >= y;
                expected[i] = r ? 1 : 0;
            }
            check(name, std::string(l.name) + " op " + std::to_string(op), per_element(n), {widen(expected), kExact, {}},
                  [&](Buffers& bu, const LaunchShape& s) {
                      const T* ad = bu.input("a", a);
                      const T* bd = bu.input("b", b);
                      unsigned char* out = bu.output<unsigned char>("out", (size_t)std::max<i64>(n, 0));
                      launch(kernel, s.grid, s.block, op, ad, bd, out, n, (int)l.shape.size(), dims_of(l.shape),
                             dims_of(l.a), dims_of(l.b));
                  });
        }
    }
}

template <typename T> void test_where(void (*kernel)(const unsigned char*, const T*, const T*, T*, i64, int, Dims, Dims, Dims, Dims),
                                      const char* name) {
    for (const ThreeWay& l : kThreeWay) {
        i64 n = elements(l.shape);
        std::vector<unsigned char> c = small_integers<unsigned char>((size_t)reach(l.shape, l.c), 2);
        std::vector<T> a = index_values<T>((size_t)reach(l.shape, l.a));
        std::vector<T> b = index_values<T>((size_t)reach(l.shape, l.b));
        std::vector<T> expected((size_t)n);
        for (i64 i = 0; i < n; i++) {
            expected[i] = c[offset_of(i, l.shape, l.c)] ? a[offset_of(i, l.shape, l.a)] : b[offset_of(i, l.shape, l.b)];
        }
        check(name, l.name, per_element(n), {widen(expected), kExact, {}}, [&](Buffers& bu, const LaunchShape& s) {
            const unsigned char* cd = bu.input("condition", c);
            const T* ad = bu.input("a", a);
            const T* bd = bu.input("b", b);
            T* out = bu.output<T>("out", (size_t)n);
            launch(kernel, s.grid, s.block, cd, ad, bd, out, n, (int)l.shape.size(), dims_of(l.shape), dims_of(l.c),
                   dims_of(l.a), dims_of(l.b));
        });
    }
}

void test_indexing_kernels() {
    test_argmax<float>();
    test_argmax<double>();
    test_gather<float>(gather_f32, "gather_f32");
    test_gather<double>(gather_f64, "gather_f64");
    test_gather<int>(gather_i32, "gather_i32");
    test_gather<long long>(gather_i64, "gather_i64");
    test_gather<unsigned char>(gather_u8, "gather_u8");
    test_scatter_add<float>(scatter_add_f32, "scatter_add_f32");
    test_scatter_add<double>(scatter_add_f64, "scatter_add_f64");
    test_scatter_add<int>(scatter_add_i32, "scatter_add_i32");
    test_scatter_add<long long>(scatter_add_i64, "scatter_add_i64");
    test_compare<float>(compare_f32, "compare_f32");
    test_compare<double>(compare_f64, "compare_f64");
    test_compare<int>(compare_i32, "compare_i32");
    test_compare<long long>(compare_i64, "compare_i64");
    test_compare<unsigned char>(compare_u8, "compare_u8");
    test_where<float>(where_f32, "where_f32");
    test_where<double>(where_f64, "where_f64");
    test_where<int>(where_i32, "where_i32");
    test_where<long long>(where_i64, "where_i64");
    test_where<unsigned char>(where_u8, "where_u8");
}

// ============================================================================ all of it

template <typename T> void test_all() {
    test_fill<T>();
    test_unary<T>();
    test_unary_backward<T>();
    test_unary_special<T>();
    test_axpby<T>();
    test_pair_lists<T>();
    test_adam_list<T>();
    test_binary_contig<T>();
    test_binary_strided<T>();
    test_strided_copy<T>();
    test_reductions<T>();
    test_max_backward<T>();
    test_softmax<T>();
    test_cross_entropy<T>();
    test_cross_entropy_mean<T>();
    test_dropout<T>();
    test_gemm<T>();
    test_binary_rows<T>();
}

} // namespace

int main() {
    auto started = std::chrono::steady_clock::now();
    check_warp_intrinsics();
    check_wmma();
    test_counter_stream_known_answers();
    test_cast<float, double>(cast_f2d, "cast_f2d");
    test_cast<double, float>(cast_d2f, "cast_d2f");
    test_all<float>();
    test_all<double>();
    test_integer_kernels();
    test_indexing_kernels();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    std::printf("kernels tested (%zu):", summary.kernels.size());
    for (const std::string& k : summary.kernels) std::printf(" %s", k.c_str());
    std::printf("\nemulation self-checks (%zu):", summary.self_checks.size());
    for (const std::string& c : summary.self_checks) std::printf(" [%s]", c.c_str());
    std::printf("\n%d cases, %d launches, %d failures, %.1f s\n", summary.cases, summary.launches, summary.failures,
                seconds);
    if (summary.printed > kMaxPrintedFailures) std::printf("(first %d failures shown)\n", kMaxPrintedFailures);
    return summary.failures == 0 ? 0 : 1;
}
