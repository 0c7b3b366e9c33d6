// Device buffers for emulated kernels, fenced by guard zones so a write outside the buffer is caught.
//
// Layout: [front guard | offset elements | n elements | back guard]. The front guard starts at a
// 256-byte boundary, as cudaMalloc's blocks do, so data() is 256-byte aligned plus `offset`
// elements: offset 1 gives the misaligned pointers a vectorised (float4 / double2) path must handle.
// Guards hold a quiet-NaN canary, checked after every launch; a kernel that READS a guard gets
// that NaN, which usually surfaces as a wrong output. Output buffers start as a different NaN
// (poison), so an element the kernel never wrote is told apart from a computed NaN.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace grad4j_emulation {

template <typename T> struct NanPatterns;
template <> struct NanPatterns<float> {
    using Bits = std::uint32_t;
    static constexpr Bits canary = 0x7fc0ca4au;
    static constexpr Bits poison = 0x7fc0dead;
};
template <> struct NanPatterns<double> {
    using Bits = std::uint64_t;
    static constexpr Bits canary = 0x7ff8ca4aca4aca4aull;
    static constexpr Bits poison = 0x7ff8deaddeaddeadull;
};

// Integer buffers (indices, labels, masks): values a kernel does not produce in the tests.
template <> struct NanPatterns<int> {
    using Bits = std::uint32_t;
    static constexpr Bits canary = 0x7fc0ca4au;
    static constexpr Bits poison = 0x7fc0dead;
};
template <> struct NanPatterns<long long> {
    using Bits = std::uint64_t;
    static constexpr Bits canary = 0x7ff8ca4aca4aca4aull;
    static constexpr Bits poison = 0x7ff8deaddeaddeadull;
};
template <> struct NanPatterns<unsigned char> { // BOOL holds 0 or 1
    using Bits = std::uint8_t;
    static constexpr Bits canary = 0xca;
    static constexpr Bits poison = 0xde;
};

template <typename T> inline bool has_bits(T v, typename NanPatterns<T>::Bits bits) {
    typename NanPatterns<T>::Bits b;
    std::memcpy(&b, &v, sizeof b);
    return b == bits;
}
template <typename T> inline T from_bits(typename NanPatterns<T>::Bits bits) {
    T v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
}
template <typename T> inline bool is_poison(T v) { return has_bits(v, NanPatterns<T>::poison); }

template <typename T> class GuardedBuffer {
public:
    static constexpr size_t kAlignment = 256;   // cudaMalloc's
    static constexpr size_t kGuardElements = 256 / sizeof(T) * 2; // 512 bytes: catches overruns by whole vectors or rows

    GuardedBuffer(size_t n, size_t offset)
        : n_(n), front_(kGuardElements + offset),
          storage_(static_cast<T*>(std::aligned_alloc(kAlignment, round_up((front_ + n + kGuardElements) * sizeof(T))))) {
        T canary = from_bits<T>(NanPatterns<T>::canary);
        for (size_t i = 0; i < front_; i++) storage_.get()[i] = canary;
        for (size_t i = 0; i < kGuardElements; i++) storage_.get()[front_ + n_ + i] = canary;
        fill_with_poison();
    }

    T* data() { return storage_.get() + front_; }
    const T* data() const { return storage_.get() + front_; }
    size_t size() const { return n_; }

    void upload(const std::vector<T>& values) {
        if (n_ > 0) std::memcpy(data(), values.data(), n_ * sizeof(T)); // an empty vector's data() may be null
    }
    std::vector<T> download() const { return std::vector<T>(data(), data() + n_); }
    void fill_with_poison() {
        T poison = from_bits<T>(NanPatterns<T>::poison);
        for (size_t i = 0; i < n_; i++) data()[i] = poison;
    }

    // "" when both guards are intact, else which elements (relative to data()) were overwritten.
    std::string guard_damage() const {
        std::string damage;
        auto report = [&](long long first, long long last) {
            damage += (damage.empty() ? "" : ", ") + std::string("[") + std::to_string(first) +
                      (first == last ? "" : ".." + std::to_string(last)) + "]";
        };
        scan(-(long long)front_, 0, report);
        scan((long long)n_, (long long)(n_ + kGuardElements), report);
        return damage.empty() ? "" : "wrote outside the buffer of " + std::to_string(n_) + " elements at " + damage;
    }

private:
    struct Free {
        void operator()(T* p) const { std::free(p); }
    };

    static size_t round_up(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

    // Calls report(first, last) for each run of damaged guard elements in [from, to).
    template <typename Report> void scan(long long from, long long to, Report& report) const {
        long long run = 0;
        bool in_run = false;
        for (long long i = from; i < to; i++) {
            bool damaged = !has_bits(data()[i], NanPatterns<T>::canary);
            if (damaged && !in_run) run = i;
            if (!damaged && in_run) report(run, i - 1);
            in_run = damaged;
        }
        if (in_run) report(run, to - 1);
    }

    size_t n_;
    size_t front_;
    std::unique_ptr<T, Free> storage_;
};

} // namespace grad4j_emulation
