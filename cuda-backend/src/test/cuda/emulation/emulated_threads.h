// CUDA's execution model on the CPU.
//
// A launch runs the blocks of its grid one after another (x fastest, then y, then z). Every thread
// of a block is a fiber (its own stack, switched to by a few instructions, no system call), and the
// fibers of a block take turns on one device thread: each runs until it waits at a barrier or
// returns, then the next one runs. So threads really wait for each other, at no cost in context
// switches (OS threads for a block's 256 threads spent most of their time in the kernel's futexes):
//   - __syncthreads() is a barrier over the block;
//   - a warp is 32 consecutive linear thread ids, and each warp collective (shuffle, ballot,
//     __syncwarp, wmma) is one barrier phase of that warp with an exchange through one slot per
//     lane. Like the GPU with full masks, all 32 lanes must take part.
// Between two barriers a thread runs alone and to completion, in thread order: a read of shared
// memory that another thread writes without a barrier between sees one fixed order, so such a race
// shows only where that order is the wrong one (the blocks alternate between ascending and
// descending thread order to give both directions a chance).
// Misuse the GPU would punish with a hang or garbage is reported instead, with what was running:
//   - a barrier or collective reached after some threads of the block or warp returned;
//   - threads of a block at different __syncthreads() calls, or lanes of a warp in different
//     collectives, at the same time: barriers in divergent code;
//   - threads that all wait at barriers none of which can complete (a hang on the GPU);
//   - a partial mask (not emulated);
//   - a block that does not finish within the watchdog's limit (a thread that loops forever):
//     GRAD4J_EMU_BLOCK_TIMEOUT_S, default 20 seconds.
// Each is fatal: the message goes to stderr and the process exits with status 3.
//
// The fibers' context switch is written for x86-64 (System V): the emulation runs on the build
// machines, which are all x86-64.
#pragma once

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/mman.h>
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

// Gives the device thread back to the scheduler (defined below); a fiber calls it while it waits.
inline void yield_fiber();
// Counts everything that lets a block go on (an arrival, a completed phase, a returned thread):
// a whole round of the block's fibers without any is a deadlock.
inline std::uint64_t progress = 0;

// A barrier that knows which of its arrivals were threads that left the kernel: a phase that
// mixes waiting threads with returned ones is a barrier in divergent code. A thread that returns
// leaves the barrier for good (as std::barrier's arrive_and_drop).
template <typename Owner> class CheckedBarrier {
public:
    CheckedBarrier(int threads, Owner* owner) : expected_(threads), owner_(owner) {}

    void wait() {
        waiting_++;
        std::uint64_t phase = phase_;
        arrive();
        while (phase_ == phase) yield_fiber();
    }

    void leave() {
        returned_++;
        expected_--;
        progress++;
        if (arrived_ > 0 && arrived_ >= expected_) complete();
    }

private:
    void arrive() {
        arrived_++;
        progress++;
        if (arrived_ >= expected_) complete();
    }

    void complete() {
        int waiting = waiting_;
        waiting_ = 0;
        arrived_ = 0;
        phase_++;
        progress++;
        if (waiting > 0) owner_->on_phase(waiting, returned_);
    }

    int expected_;
    Owner* owner_;
    int arrived_ = 0;
    int waiting_ = 0;
    int returned_ = 0;
    std::uint64_t phase_ = 0;
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

} // namespace grad4j_emulation

// Saves the callee-saved registers, the SSE and x87 control words and the stack pointer of the
// running context into *save, and continues the context whose stack pointer is load.
extern "C" void grad4j_fiber_switch(void** save, void* load);
asm(R"(
    .text
    .p2align 4
    .globl grad4j_fiber_switch
    .hidden grad4j_fiber_switch
    .type grad4j_fiber_switch, @function
grad4j_fiber_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size grad4j_fiber_switch, .-grad4j_fiber_switch
)");

namespace grad4j_emulation {

// The fibers of the running block and the loop that takes them in turn. Used on the device thread only.
class Scheduler {
public:
    static constexpr std::size_t kStackBytes = 512 * 1024;

    static Scheduler& instance() {
        static Scheduler scheduler;
        return scheduler;
    }

    // Runs one block: every thread calls kernel_call, in turns, until all have returned.
    void run_block(int threads, dim3 block, uint3 index, Block& state, const std::function<void()>& kernel_call,
                   bool descending) {
        while ((int)fibers_.size() < threads) fibers_.emplace_back(new_stack());
        kernel_call_ = &kernel_call;
        state_ = &state;
        block_ = block;
        index_ = index;
        for (int t = 0; t < threads; t++) {
            Fiber& f = fibers_[t];
            f.done = false;
            f.sp = prepare(f.stack);
        }
        int remaining = threads;
        while (remaining > 0) {
            std::uint64_t before = progress;
            for (int i = 0; i < threads; i++) {
                int t = descending ? threads - 1 - i : i;
                Fiber& f = fibers_[t];
                if (f.done) continue;
                enter(t);
                grad4j_fiber_switch(&scheduler_sp_, f.sp);
                if (f.done) remaining--;
            }
            if (remaining > 0 && progress == before) {
                leave_thread();
                fail("block (%u,%u,%u): %d threads wait at barriers none of which can complete (threads at "
                     "__syncthreads() while others wait in a warp collective, or the reverse): the GPU hangs here",
                     index.x, index.y, index.z, remaining);
            }
        }
        leave_thread();
    }

    // From a fiber: back to the scheduler; returns when the scheduler resumes this fiber.
    void yield() { grad4j_fiber_switch(&fibers_[current_].sp, scheduler_sp_); }

private:
    struct Fiber {
        explicit Fiber(char* s) : stack(s) {}
        char* stack; // lowest address; the first page is a guard
        void* sp = nullptr;
        bool done = true;
    };

    static char* new_stack() {
        void* p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) fail("cannot map a %zu-byte fiber stack", kStackBytes);
        // a thread that overflows its stack faults on this page instead of writing over another's
        mprotect(p, static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), PROT_NONE);
        return static_cast<char*>(p);
    }

    // A stack that grad4j_fiber_switch "returns" from into fiber_main, with the ABI's alignment
    // (rsp + 8 a multiple of 16 at a function's first instruction) and default control words.
    static void* prepare(char* stack) {
        auto* top = reinterpret_cast<std::uint64_t*>(stack + kStackBytes);
        // after the switch's ret, rsp = top - 24: 8 more than a multiple of 16, as after a call
        std::uint64_t* sp = top - 3;
        *--sp = reinterpret_cast<std::uint64_t>(&fiber_main);
        for (int r = 0; r < 6; r++) *--sp = 0; // rbp rbx r12 r13 r14 r15
        *--sp = 0x037Full << 32 | 0x1F80u;       // fnstcw at +4, stmxcsr at +0
        return sp;
    }

    void enter(int t) {
        current_ = t;
        blockIdx = index_;
        threadIdx = uint3{t % block_.x, (t / block_.x) % block_.y, t / (block_.x * block_.y)};
        current_block = state_;
        current_warp = &state_->warp(t / kWarpSize);
        current_lane = t % kWarpSize;
        current_thread = t;
    }

    static void leave_thread() {
        current_block = nullptr;
        current_warp = nullptr;
        current_lane = -1;
        current_thread = -1;
    }

    [[noreturn]] static void fiber_main() {
        Scheduler& s = instance();
        (*s.kernel_call_)();
        current_warp->leave();
        current_block->leave();
        s.fibers_[s.current_].done = true;
        void* unused;
        grad4j_fiber_switch(&unused, s.scheduler_sp_); // never resumed: the next block prepares it again
        __builtin_unreachable();
    }

    std::vector<Fiber> fibers_;
    void* scheduler_sp_ = nullptr;
    int current_ = -1;
    const std::function<void()>* kernel_call_ = nullptr;
    Block* state_ = nullptr;
    dim3 block_;
    uint3 index_{};
};

inline void yield_fiber() { Scheduler::instance().yield(); }

// The one thread that runs every block, so fibers never switch stacks on a caller's thread (a
// JVM's, for the emulated driver). Launches from several threads take turns.
class DeviceThread {
public:
    static DeviceThread& instance() {
        static DeviceThread* device = new DeviceThread(); // never destroyed: its thread runs until the process ends
        return *device;
    }

    void run(const std::function<void()>& job) {
        std::lock_guard<std::mutex> one_launch_at_a_time(launch_);
        std::unique_lock<std::mutex> hold(mutex_);
        job_ = &job;
        changed_.notify_all();
        changed_.wait(hold, [&] { return job_ == nullptr; });
    }

private:
    DeviceThread() {
        std::thread([this] {
            std::unique_lock<std::mutex> hold(mutex_);
            for (;;) {
                changed_.wait(hold, [&] { return job_ != nullptr; });
                (*job_)();
                job_ = nullptr;
                changed_.notify_all();
            }
        }).detach();
    }

    std::mutex launch_;
    std::mutex mutex_;
    std::condition_variable changed_;
    const std::function<void()>* job_ = nullptr;
};

// Ends the process when a block runs too long: a thread that loops forever never gives the device
// thread back (a deadlock at barriers is found by the scheduler at once).
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
                             "a thread loops forever (threads stuck at barriers are reported at once)\n",
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
    DeviceThread::instance().run([&] {
        gridDim = grid;
        blockDim = block;
        Watchdog& watchdog = Watchdog::instance();
        Scheduler& scheduler = Scheduler::instance();
        bool descending = false;
        for (unsigned z = 0; z < grid.z; z++) {
            for (unsigned y = 0; y < grid.y; y++) {
                for (unsigned x = 0; x < grid.x; x++) {
                    Block state((int)threads);
                    uint3 index{x, y, z};
                    watchdog.block_started(index);
                    scheduler.run_block((int)threads, block, index, state, kernel_call, descending);
                    descending = !descending;
                    watchdog.block_finished();
                }
            }
        }
    });
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
