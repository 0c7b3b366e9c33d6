// CUDA's execution model on CPU threads.
//
// A launch runs the blocks of its grid one after another (x fastest, then y, then z). Every thread
// of a block is a std::thread (a pool, reused while the block size stays the same), so all threads
// of a block run concurrently and really wait for each other:
//   - __syncthreads() is a std::barrier over the block;
//   - a warp is 32 consecutive linear thread ids, and each warp collective (shuffle, ballot,
//     __syncwarp, wmma) is one barrier phase of that warp with an exchange through one slot per
//     lane. Like the GPU with full masks, all 32 lanes must take part.
// Misuse the GPU would punish with a hang or garbage is reported instead, with what was running:
//   - a barrier or collective reached after some threads of the block or warp returned;
//   - threads of a block at different __syncthreads() calls, or lanes of a warp in different
//     collectives, at the same time: barriers in divergent code;
//   - a partial mask (not emulated);
//   - a block that does not finish within the watchdog's limit (a thread waits for a barrier that
//     the others never reach): GRAD4J_EMU_BLOCK_TIMEOUT_S, default 20 seconds.
// Each is fatal: the message goes to stderr and the process exits with status 3.
#pragma once

#include <atomic>
#include <barrier>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
// Written by the launcher before a block's threads start, read only while they run.
inline dim3 blockDim;
inline dim3 gridDim;
constexpr int warpSize = 32;

namespace grad4j_emulation {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kExitStatus = 3;

// What the test is running, named in every error; a fixed buffer so a signal handler can print it.
inline char running[512] = "(no launch yet)";

inline void describe_running(const std::string& what) {
    std::snprintf(running, sizeof running, "%s", what.c_str());
}

class Block;
class Warp;
inline thread_local Block* current_block = nullptr;
inline thread_local Warp* current_warp = nullptr;
inline thread_local int current_lane = -1;
inline thread_local int current_thread = -1; // linear index in the block

[[noreturn]] inline void fail(const char* format, ...) {
    char message[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(message, sizeof message, format, args);
    va_end(args);
    char where[160] = "";
    if (current_block != nullptr) {
        std::snprintf(where, sizeof where, "block (%u,%u,%u) thread (%u,%u,%u): ", blockIdx.x, blockIdx.y, blockIdx.z,
                      threadIdx.x, threadIdx.y, threadIdx.z);
    }
    std::fprintf(stderr, "EMULATION ERROR while running %s: %s%s\n", running, where, message);
    std::fflush(stderr);
    std::_Exit(kExitStatus);
}

inline void require_full_mask(unsigned mask, const char* collective) {
    if (mask != kFullMask) {
        fail("%s with mask 0x%08x: only full-warp collectives (mask 0xffffffff, all 32 lanes) are emulated",
             collective, mask);
    }
}

// A barrier that knows which of its arrivals were threads that left the kernel: a phase that
// mixes waiting threads with returned ones is a barrier in divergent code.
template <typename Owner> class CheckedBarrier {
public:
    CheckedBarrier(int threads, Owner* owner) : barrier_(threads, Completion{this, owner}) {}

    void wait() {
        waiting_.fetch_add(1, std::memory_order_relaxed);
        barrier_.arrive_and_wait();
    }

    void leave() {
        returned_.fetch_add(1, std::memory_order_relaxed);
        barrier_.arrive_and_drop();
    }

private:
    struct Completion {
        CheckedBarrier* self;
        Owner* owner;
        void operator()() noexcept {
            int waiting = self->waiting_.exchange(0, std::memory_order_relaxed);
            if (waiting > 0) {
                owner->on_phase(waiting, self->returned_.load(std::memory_order_relaxed));
            }
        }
    };
    std::atomic<int> waiting_{0};
    std::atomic<int> returned_{0};
    std::barrier<Completion> barrier_;
};

// Where a thread waits: the collective and its line in the kernel source.
struct CallSite {
    const char* name = "";
    const char* file = "";
    unsigned line = 0;

    bool same_place(const CallSite& o) const {
        return line == o.line && std::strcmp(name, o.name) == 0 && std::strcmp(file, o.file) == 0;
    }
    std::string describe() const {
        const char* base = std::strrchr(file, '/');
        return std::string(name) + " at " + (base ? base + 1 : file) + ":" + std::to_string(line);
    }
};

inline CallSite call_site(const char* name, const std::source_location& where) {
    return CallSite{name, where.file_name(), (unsigned)where.line()};
}

class Warp {
public:
    Warp() : barrier_(kWarpSize, this) {}

    // Publishes this lane's value and call site, waits for all 32 lanes, and returns the slots
    // every lane published. Two slot sets alternate: a lane can only write a set again after the
    // next exchange's barrier, which every lane passes only after reading this one.
    const std::uint64_t* exchange(const CallSite& site, std::uint64_t value) {
        int set = next_set_[current_lane];
        next_set_[current_lane] = set ^ 1;
        slot_[set][current_lane] = value;
        site_[set][current_lane] = site;
        current_set_.store(set, std::memory_order_relaxed);
        barrier_.wait();
        return slot_[set];
    }

    void leave() { barrier_.leave(); }

    int index = 0;

    void on_phase(int waiting, int returned) {
        const CallSite* sites = site_[current_set_.load(std::memory_order_relaxed)];
        if (returned > 0) {
            fail("warp %d: %d lanes wait in a warp collective after %d lanes of the warp returned from the kernel; "
                 "a full-mask collective needs all 32 lanes", index, waiting, returned);
        }
        // The guide asks all lanes to execute the same intrinsic with the same mask; since Volta
        // they may do so from different lines, so only the intrinsic is compared.
        for (int lane = 1; lane < kWarpSize; lane++) {
            if (std::strcmp(sites[lane].name, sites[0].name) != 0) {
                fail("warp %d: lane 0 is in %s while lane %d is in %s (warp collectives in divergent code)", index,
                     sites[0].describe().c_str(), lane, sites[lane].describe().c_str());
            }
        }
    }

private:
    std::uint64_t slot_[2][kWarpSize];
    CallSite site_[2][kWarpSize];
    int next_set_[kWarpSize] = {};
    std::atomic<int> current_set_{0}; // the set of the phase being completed (every lane used the same)
    CheckedBarrier<Warp> barrier_;
};

class Block {
public:
    explicit Block(int threads)
        : threads_(threads), barrier_(threads, this), warps_(new Warp[threads / kWarpSize]), site_(new CallSite[threads]) {
        for (int w = 0; w < threads / kWarpSize; w++) warps_[w].index = w;
    }

    Warp& warp(int w) { return warps_[w]; }

    void sync(int thread, const CallSite& site) {
        site_[thread] = site;
        barrier_.wait();
    }

    void leave() { barrier_.leave(); }

    void on_phase(int waiting, int returned) {
        if (returned > 0) {
            fail("%d threads wait at __syncthreads() after %d threads of the block returned from the kernel "
                 "(a barrier in divergent code: the GPU hangs or corrupts)", waiting, returned);
        }
        // every thread at the same __syncthreads(): the guide requires it, and a barrier passed at
        // different lines means the threads disagree about what the shared memory holds
        for (int t = 1; t < threads_; t++) {
            if (!site_[t].same_place(site_[0])) {
                fail("thread 0 waits at %s while thread %d waits at %s (__syncthreads() in divergent code)",
                     site_[0].describe().c_str(), t, site_[t].describe().c_str());
            }
        }
    }

private:
    int threads_;
    CheckedBarrier<Block> barrier_;
    std::unique_ptr<Warp[]> warps_;
    std::unique_ptr<CallSite[]> site_;
};

inline void sync_block(const std::source_location& where) {
    if (current_block == nullptr) fail("__syncthreads() outside a kernel launch");
    current_block->sync(current_thread, call_site("__syncthreads", where));
}

inline void sync_warp(unsigned mask, const std::source_location& where) {
    require_full_mask(mask, "__syncwarp");
    if (current_warp == nullptr) fail("__syncwarp() outside a kernel launch");
    current_warp->exchange(call_site("__syncwarp", where), 0);
}

// A warp-collective operation whose effect is complete for every lane once all lanes got here
// (wmma loads, stores and mma_sync end with this).
inline void warp_collective_done(const char* name, const std::source_location& where) {
    if (current_warp == nullptr) fail("%s outside a kernel launch", name);
    current_warp->exchange(call_site(name, where), 0);
}

inline int lane_id() { return current_lane; }

template <typename T, typename SourceLane>
T shuffle(unsigned mask, const char* name, const std::source_location& where, T value, SourceLane source_of) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(std::uint64_t),
                  "warp shuffles move values of at most 8 bytes");
    require_full_mask(mask, name);
    if (current_warp == nullptr) fail("%s outside a kernel launch", name);
    std::uint64_t mine = 0;
    std::memcpy(&mine, &value, sizeof(T));
    const std::uint64_t* slots = current_warp->exchange(call_site(name, where), mine);
    int source = source_of(current_lane);
    if (source < 0 || source >= kWarpSize) fail("%s: lane %d reads from lane %d", name, current_lane, source);
    T result;
    std::memcpy(&result, &slots[source], sizeof(T));
    return result;
}

inline unsigned ballot(unsigned mask, const char* name, const std::source_location& where, bool predicate) {
    require_full_mask(mask, name);
    if (current_warp == nullptr) fail("%s outside a kernel launch", name);
    const std::uint64_t* slots = current_warp->exchange(call_site(name, where), predicate ? 1 : 0);
    unsigned bits = 0;
    for (int lane = 0; lane < kWarpSize; lane++) bits |= (slots[lane] != 0 ? 1u : 0u) << lane;
    return bits;
}

// The threads of one block size, started once and handed one block at a time.
class ThreadPool {
public:
    explicit ThreadPool(int threads) : threads_(threads), start_(threads + 1), finish_(threads + 1) {
        workers_.reserve(threads);
        for (int t = 0; t < threads; t++) {
            workers_.emplace_back([this, t] {
                for (;;) {
                    start_.arrive_and_wait();
                    if (job_ == nullptr) return;
                    (*job_)(t);
                    finish_.arrive_and_wait();
                }
            });
        }
    }

    ~ThreadPool() {
        job_ = nullptr;
        start_.arrive_and_wait();
        for (std::thread& w : workers_) w.join();
    }

    int threads() const { return threads_; }

    // Runs job(t) on every thread t and returns when all have finished.
    void run(const std::function<void(int)>& job) {
        job_ = &job;
        start_.arrive_and_wait();
        finish_.arrive_and_wait();
    }

private:
    int threads_;
    std::barrier<> start_;
    std::barrier<> finish_;
    const std::function<void(int)>* job_ = nullptr;
    std::vector<std::thread> workers_;
};

// Ends the process when a block runs too long: with real barriers, a thread waiting for a
// barrier that the others never reach waits forever.
class Watchdog {
public:
    static Watchdog& instance() {
        static Watchdog* dog = new Watchdog(); // never destroyed: its thread runs until the process ends
        return *dog;
    }

    void block_started(uint3 block) {
        x_.store(block.x, std::memory_order_relaxed);
        y_.store(block.y, std::memory_order_relaxed);
        z_.store(block.z, std::memory_order_relaxed);
        started_ns_.store(now_ns(), std::memory_order_release);
    }
    void block_finished() { started_ns_.store(0, std::memory_order_release); }

private:
    Watchdog() {
        const char* env = std::getenv("GRAD4J_EMU_BLOCK_TIMEOUT_S");
        limit_s_ = env != nullptr && std::atof(env) > 0 ? std::atof(env) : 20.0;
        std::thread([this] { watch(); }).detach();
    }

    static std::int64_t now_ns() {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now().time_since_epoch()).count();
    }

    void watch() {
        for (;;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            std::int64_t started = started_ns_.load(std::memory_order_acquire);
            if (started != 0 && (now_ns() - started) > (std::int64_t)(limit_s_ * 1e9)) {
                uint3 b{x_.load(), y_.load(), z_.load()};
                std::fprintf(stderr,
                             "EMULATION ERROR while running %s: block (%u,%u,%u) has not finished after %.0f s: "
                             "some thread waits at a __syncthreads() or warp collective that the others never "
                             "reach (or loops forever)\n",
                             running, b.x, b.y, b.z, limit_s_);
                std::fflush(stderr);
                std::_Exit(kExitStatus);
            }
        }
    }

    double limit_s_;
    std::atomic<std::int64_t> started_ns_{0};
    std::atomic<unsigned> x_{0}, y_{0}, z_{0};
};

// A crash (a wild pointer, a misaligned vector load, a sanitizer's abort) names what was running.
inline void report_crashes() {
    static bool installed = false;
    if (installed) return;
    installed = true;
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGILL}) {
        std::signal(sig, [](int s) {
            const char* head = "EMULATION CRASH (fatal signal) while running ";
            [[maybe_unused]] ssize_t ignored = write(STDERR_FILENO, head, std::strlen(head));
            ignored = write(STDERR_FILENO, running, std::strlen(running));
            ignored = write(STDERR_FILENO, "\n", 1);
            std::signal(s, SIG_DFL);
            std::raise(s);
        });
    }
}

inline ThreadPool& pool_of(int threads) {
    static std::unique_ptr<ThreadPool> pool;
    if (!pool || pool->threads() != threads) {
        pool.reset(); // one pool alive at a time: at most 1024 threads
        pool = std::make_unique<ThreadPool>(threads);
    }
    return *pool;
}

inline void run_grid(dim3 grid, dim3 block, const std::function<void()>& kernel_call) {
#ifndef GRAD4J_EMULATION_IN_JVM // inside a JVM (the emulated driver) the JVM's own SIGSEGV handler must stay
    report_crashes();
#endif
    unsigned threads = block.x * block.y * block.z;
    if (threads == 0 || threads > 1024 || threads % kWarpSize != 0) {
        fail("launch with a block of %ux%ux%u threads: the emulation needs a multiple of 32, at most 1024", block.x,
             block.y, block.z);
    }
    if (grid.x == 0 || grid.y == 0 || grid.z == 0) {
        fail("launch with an empty grid %ux%ux%u (cudaErrorInvalidConfiguration on the GPU)", grid.x, grid.y, grid.z);
    }
    gridDim = grid;
    blockDim = block;
    ThreadPool& pool = pool_of((int)threads);
    Watchdog& watchdog = Watchdog::instance();
    for (unsigned z = 0; z < grid.z; z++) {
        for (unsigned y = 0; y < grid.y; y++) {
            for (unsigned x = 0; x < grid.x; x++) {
                Block state((int)threads);
                uint3 index{x, y, z};
                watchdog.block_started(index);
                pool.run([&](int t) {
                    blockIdx = index;
                    threadIdx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
                    current_block = &state;
                    current_warp = &state.warp(t / kWarpSize);
                    current_lane = t % kWarpSize;
                    current_thread = t;
                    kernel_call();
                    current_warp->leave();
                    state.leave();
                    current_block = nullptr;
                    current_warp = nullptr;
                    current_lane = -1;
                    current_thread = -1;
                });
                watchdog.block_finished();
            }
        }
    }
}

} // namespace grad4j_emulation

// kernel<<<grid, block>>>(args...): arguments convert to the kernel's parameter types once, as the
// driver copies them; every thread then calls the kernel with its own copy.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, Args&&... args) {
    static_assert(sizeof...(Params) == sizeof...(Args), "launch: the argument count differs from the kernel's");
    const std::tuple<std::decay_t<Params>...> params(std::forward<Args>(args)...);
    grad4j_emulation::run_grid(grid, block, [&] { std::apply(kernel, params); });
}
