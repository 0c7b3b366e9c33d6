// An emulated CUDA driver: a libcuda.so.1 whose "device" is this machine's CPU, so the whole CUDA
// backend (JCuda, the foreign-function launcher, the caching allocator, pinned staging, CUDA
// graphs, and grad4j_kernels.cu itself) runs its GPU test suites where no GPU is (build.sh,
// the cuda-backend's "emulated-gpu" test run).
//
// The kernels are the real grad4j_kernels.cu, compiled by g++ on top of the CPU emulation of
// CUDA's thread model (../emulation: every thread of a block is a fiber, __syncthreads()
// a barrier, warp collectives exchanges between 32 lanes). cuModuleGetFunction finds them by
// name and cuLaunchKernel reads each kernelParams entry as the kernel's parameter type, as the
// driver does.
//
// What the driver promises and the backend relies on is emulated strictly, so that a host-side
// mistake that a GPU would punish fails here too:
//   - Work is asynchronous. A launch or async copy is queued on its stream and runs only when
//     something waits for it (cuStreamSynchronize, cuEventSynchronize or Query, cuCtxSynchronize, a
//     synchronous copy, cuMemFree). A host buffer handed to cuMemcpyHtoDAsync is read when the
//     copy runs, not when it was queued: overwriting it too early shows up as wrong data.
//   - Each thread has its own current context (cuCtxSetCurrent): a call without one fails with
//     CUDA_ERROR_INVALID_CONTEXT.
//   - Stream capture (relaxed mode): the captured stream's work becomes a graph instead of
//     running; synchronising the stream or the context, or a synchronous copy, while a capture
//     runs invalidates it; a graph launch replays the captured work, reading host buffers again.
//   - Device memory is bounded (GRAD4J_EMULATED_GPU_MEMORY bytes, default 4 GiB): cuMemAlloc beyond
//     it returns CUDA_ERROR_OUT_OF_MEMORY. An allocation of 64 KiB or more ends at an inaccessible
//     page (its size rounded up to 256 bytes, CUDA's allocation granularity), so a kernel writing
//     past its end crashes the JVM instead of corrupting a neighbour, and freed memory is unmapped;
//     a smaller one is followed by canary bytes, checked after every kernel that takes a pointer
//     into it: a changed canary makes the context unusable (CUDA_ERROR_ILLEGAL_ADDRESS from every
//     later call, as on a GPU).
//   - Fresh allocations (up to 256 MiB) hold NaN bits, not zeros.
//   - Copies are checked against the allocations they touch (CUDA_ERROR_INVALID_VALUE otherwise).
//   - Launch configurations are checked as the GPU does (block size, grid size, shared memory);
//     the emulation also needs blocks of a multiple of 32 threads.
// Not emulated: concurrency between streams (one queue runs all work in issue order, which is one
// of the orders a GPU may choose), dynamic shared memory, and timing (events measure the CPU).
//
// Functions the backend does not call exist too (JCuda's library links all of them) and return
// CUDA_ERROR_NOT_SUPPORTED: build.sh generates them from the symbols JCuda's library needs.

#include "cuda_emulation.h"
#include <mma.h>

#include "../../../main/cuda/grad4j_kernels.cu"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

// cuda.h's values for the results this driver returns.
enum Result : int {
    SUCCESS = 0,
    INVALID_VALUE = 1,
    OUT_OF_MEMORY = 2,
    NOT_INITIALIZED = 3,
    INVALID_DEVICE = 101,
    INVALID_IMAGE = 200,
    INVALID_CONTEXT = 201,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    NOT_READY = 600,
    NOT_SUPPORTED = 801,
    STREAM_CAPTURE_UNSUPPORTED = 900,
    STREAM_CAPTURE_INVALIDATED = 901,
    STREAM_CAPTURE_IMPLICIT = 906,
};

using Deviceptr = unsigned long long;

constexpr int kDriverVersion = 13000;
constexpr int kMultiprocessors = 132;
constexpr std::size_t kGranularity = 256;
const char* const kDeviceName = "grad4j emulated GPU (CPU threads)";

struct Context {
    int device;
};

// One unit of queued work: runs on the host when drained.
struct Work {
    std::function<void()> run;
    std::string what;
};

struct Graph {
    std::vector<Work> work;
};

struct Stream {
    bool capturing = false;
    bool invalidated = false;
    Graph* graph = nullptr;
};

struct Event {
    unsigned flags = 0;
    bool recorded = false;   // recorded outside a capture at least once
    bool pending = false;    // recorded, its point in the queue not reached yet
    std::uint64_t sequence = 0;
    std::chrono::steady_clock::time_point when{};
};

struct Allocation {
    void* mapping;
    std::size_t mapped;  // bytes mapped, guard page included (0 for a canary allocation)
    std::size_t bytes;
    bool canary;         // small: canary bytes follow it; large: it ends at an inaccessible page
};

// Small allocations are many (the caching allocator's size classes) and a guard page each would
// exhaust the process's memory mappings (vm.max_map_count): they get canary bytes after their
// rounded size instead, checked after every kernel that takes a pointer into them and at free.
constexpr std::size_t kGuardPageFrom = 64 * 1024;
constexpr std::size_t kCanaryBytes = 256;
constexpr unsigned char kCanary = 0xa5;
constexpr std::size_t kFillUpTo = std::size_t(256) << 20;

struct KernelEntry {
    const char* name;
    std::function<std::function<void()>(dim3, dim3, void**)> bind;
};

// Everything the driver owns, behind one lock: the JVM calls from many threads, and the
// emulation's launch state (gridDim, the thread pool) is process-wide.
std::recursive_mutex lock;
bool initialised = false;
Context primary{0};
int primaryRetains = 0;
thread_local Context* current = nullptr;
std::deque<std::pair<std::uint64_t, Work>> queue; // issue number, work
std::uint64_t issued = 0;
std::set<Stream*> streams;
// Shared with the queued records that point at them, so destroying one needs no wait.
std::map<Event*, std::shared_ptr<Event>> events;
std::set<Graph*> graphs;
std::set<Graph*> execs;
std::map<std::uintptr_t, Allocation> allocations; // by start address
std::size_t allocatedBytes = 0;
std::set<void*> pinned;
std::vector<KernelEntry>* kernelTable = nullptr;
int modules = 0;
// Like a GPU after an illegal address, the context is unusable once a kernel wrote out of
// bounds: every later call returns this.
int stickyError = SUCCESS;

std::size_t rounded(std::size_t bytes) { return (bytes + kGranularity - 1) / kGranularity * kGranularity; }

// Checks the canary after the allocation starting at `start`, making the error sticky if a
// write went past its end.
void checkCanary(std::uintptr_t start, const char* after) {
    auto it = allocations.find(start);
    if (it == allocations.end() || !it->second.canary) return;
    const unsigned char* tail = reinterpret_cast<const unsigned char*>(start) + rounded(it->second.bytes);
    for (std::size_t i = 0; i < kCanaryBytes; i++) {
        if (tail[i] != kCanary) {
            std::fprintf(stderr,
                         "emulated CUDA driver: %s wrote past the end of the allocation at 0x%lx (%zu bytes, "
                         "byte %zu after its rounded end changed); the context is now unusable "
                         "(CUDA_ERROR_ILLEGAL_ADDRESS)\n",
                         after, static_cast<unsigned long>(start), it->second.bytes, i);
            stickyError = 700;
            return;
        }
    }
}

// After a kernel: the canaries of the allocations its pointer arguments point into.
template <typename T> void checkArgument(const T& argument, const char* kernel) {
    if constexpr (std::is_pointer_v<T>) {
        std::uintptr_t address = reinterpret_cast<std::uintptr_t>(argument);
        auto it = allocations.upper_bound(address);
        if (it == allocations.begin()) return;
        --it;
        if (address < it->first + rounded(it->second.bytes)) checkCanary(it->first, kernel);
    }
}

std::size_t memoryLimit() {
    const char* env = std::getenv("GRAD4J_EMULATED_GPU_MEMORY");
    if (env != nullptr && std::strtoull(env, nullptr, 10) > 0) return std::strtoull(env, nullptr, 10);
    return std::size_t(4) << 30;
}

bool anyCapture() {
    for (Stream* s : streams) {
        if (s->capturing) return true;
    }
    return false;
}

// A synchronising call while a capture runs: the capture is invalidated, as the driver does.
Result refuseDuringCapture(Result code) {
    for (Stream* s : streams) {
        if (s->capturing) s->invalidated = true;
    }
    return code;
}

// Runs queued work up to and including issue number `until`.
void drainUntil(std::uint64_t until) {
    while (!queue.empty() && queue.front().first <= until) {
        Work work = std::move(queue.front().second);
        queue.pop_front();
        grad4j_emulation::describe_running(work.what);
        work.run();
    }
}

void drainAll() { drainUntil(UINT64_MAX); }

Stream* streamOf(void* handle) { return static_cast<Stream*>(handle); }

bool validStream(void* handle) { return handle == nullptr || streams.count(streamOf(handle)) != 0; }

// Queues work on a stream, or adds it to the stream's graph while it is being captured.
Result submit(void* streamHandle, Work work) {
    Stream* s = streamOf(streamHandle);
    if (s != nullptr && s->capturing) {
        if (s->invalidated) return STREAM_CAPTURE_INVALIDATED;
        s->graph->work.push_back(std::move(work));
        return SUCCESS;
    }
    if (s == nullptr && anyCapture()) {
        // the legacy stream synchronises with every blocking stream, a capturing one included
        return refuseDuringCapture(STREAM_CAPTURE_IMPLICIT);
    }
    queue.emplace_back(++issued, std::move(work));
    return SUCCESS;
}

// The allocation holding [address, address + bytes), or nullptr.
const Allocation* allocationHolding(Deviceptr address, std::size_t bytes) {
    auto it = allocations.upper_bound(static_cast<std::uintptr_t>(address));
    if (it == allocations.begin()) return nullptr;
    --it;
    std::uintptr_t start = it->first;
    if (address < start || bytes > it->second.bytes || address - start > it->second.bytes - bytes) return nullptr;
    return &it->second;
}

std::string hex(Deviceptr p) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%llx", p);
    return b;
}

// Unpacks kernelParams as the kernel's parameter types, copying them now as the driver does.
template <typename... P, std::size_t... I>
std::function<void()> bindLaunch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, void** params,
                                 std::index_sequence<I...>) {
    auto args = std::make_shared<std::tuple<std::decay_t<P>...>>(
            *static_cast<const std::decay_t<P>*>(params[I])...);
    return [name, kernel, grid, block, args] {
        if (stickyError != SUCCESS) return; // a dead context runs nothing more
        std::apply([&](auto&... a) { launch(kernel, grid, block, a...); }, *args);
        std::apply([&](const auto&... a) { (checkArgument(a, name), ...); }, *args);
    };
}

template <typename... P> KernelEntry entry(const char* name, void (*kernel)(P...)) {
    return KernelEntry{name, [name, kernel](dim3 grid, dim3 block, void** params) {
                           return bindLaunch(name, kernel, grid, block, params, std::index_sequence_for<P...>{});
                       }};
}

std::vector<KernelEntry>& kernels() {
    if (kernelTable == nullptr) {
        kernelTable = new std::vector<KernelEntry>{
#define GRAD4J_KERNEL(name) entry(#name, &name),
#include "emulated_kernels.inc"
#undef GRAD4J_KERNEL
        };
    }
    return *kernelTable;
}

#define REQUIRE_INIT()                        \
    if (!initialised) return NOT_INITIALIZED; \
    if (current == nullptr) return INVALID_CONTEXT; \
    if (stickyError != SUCCESS) return stickyError

} // namespace

extern "C" {

int cuInit(unsigned flags) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (flags != 0) return INVALID_VALUE;
    initialised = true;
    return SUCCESS;
}

int cuDriverGetVersion(int* version) {
    if (version == nullptr) return INVALID_VALUE;
    *version = kDriverVersion;
    return SUCCESS;
}

int cuDeviceGetCount(int* count) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialised) return NOT_INITIALIZED;
    if (count == nullptr) return INVALID_VALUE;
    *count = 1;
    return SUCCESS;
}

int cuDeviceGet(int* device, int ordinal) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialised) return NOT_INITIALIZED;
    if (device == nullptr) return INVALID_VALUE;
    if (ordinal != 0) return INVALID_DEVICE;
    *device = 0;
    return SUCCESS;
}

int cuDeviceGetName(char* name, int length, int device) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialised) return NOT_INITIALIZED;
    if (device != 0) return INVALID_DEVICE;
    if (name == nullptr || length <= 0) return INVALID_VALUE;
    std::snprintf(name, static_cast<std::size_t>(length), "%s", kDeviceName);
    return SUCCESS;
}

int cuDeviceTotalMem_v2(std::size_t* bytes, int device) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialised) return NOT_INITIALIZED;
    if (device != 0) return INVALID_DEVICE;
    if (bytes == nullptr) return INVALID_VALUE;
    *bytes = memoryLimit();
    return SUCCESS;
}

int cuDeviceGetAttribute(int* value, int attribute, int device) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialised) return NOT_INITIALIZED;
    if (device != 0) return INVALID_DEVICE;
    if (value == nullptr) return INVALID_VALUE;
    switch (attribute) {
        case 1: *value = 1024; return SUCCESS;             // MAX_THREADS_PER_BLOCK
        case 2: *value = 1024; return SUCCESS;             // MAX_BLOCK_DIM_X
        case 3: *value = 1024; return SUCCESS;             // MAX_BLOCK_DIM_Y
        case 4: *value = 64; return SUCCESS;               // MAX_BLOCK_DIM_Z
        case 5: *value = 2147483647; return SUCCESS;       // MAX_GRID_DIM_X
        case 6: *value = 65535; return SUCCESS;            // MAX_GRID_DIM_Y
        case 7: *value = 65535; return SUCCESS;            // MAX_GRID_DIM_Z
        case 8: *value = 48 * 1024; return SUCCESS;        // MAX_SHARED_MEMORY_PER_BLOCK
        case 10: *value = 32; return SUCCESS;              // WARP_SIZE
        case 16: *value = kMultiprocessors; return SUCCESS; // MULTIPROCESSOR_COUNT
        case 75: *value = 9; return SUCCESS;               // COMPUTE_CAPABILITY_MAJOR
        case 76: *value = 0; return SUCCESS;               // COMPUTE_CAPABILITY_MINOR
        case 97: *value = 227 * 1024; return SUCCESS;      // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
        default: return INVALID_VALUE;
    }
}

int cuDevicePrimaryCtxRetain(void** context, int device) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialised) return NOT_INITIALIZED;
    if (device != 0) return INVALID_DEVICE;
    if (context == nullptr) return INVALID_VALUE;
    primaryRetains++;
    *context = &primary;
    return SUCCESS;
}

int cuDevicePrimaryCtxRelease_v2(int device) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialised) return NOT_INITIALIZED;
    if (device != 0) return INVALID_DEVICE;
    if (primaryRetains == 0) return INVALID_CONTEXT;
    primaryRetains--;
    return SUCCESS;
}

int cuCtxSetCurrent(void* context) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialised) return NOT_INITIALIZED;
    if (context != nullptr && (context != &primary || primaryRetains == 0)) return INVALID_CONTEXT;
    current = static_cast<Context*>(context);
    return SUCCESS;
}

int cuCtxGetCurrent(void** context) {
    if (!initialised) return NOT_INITIALIZED;
    if (context == nullptr) return INVALID_VALUE;
    *context = current;
    return SUCCESS;
}

int cuCtxSynchronize() {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (anyCapture()) return refuseDuringCapture(STREAM_CAPTURE_UNSUPPORTED);
    drainAll();
    return stickyError;
}

// --- memory --------------------------------------------------------------------------------------

int cuMemAlloc_v2(Deviceptr* pointer, std::size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (pointer == nullptr || bytes == 0) return INVALID_VALUE;
    const std::size_t size = rounded(bytes);
    if (allocatedBytes + size > memoryLimit()) return OUT_OF_MEMORY;
    char* start;
    Allocation a{nullptr, 0, bytes, size < kGuardPageFrom};
    if (a.canary) {
        a.mapping = std::aligned_alloc(kGranularity, size + kCanaryBytes);
        if (a.mapping == nullptr) return OUT_OF_MEMORY;
        start = static_cast<char*>(a.mapping);
        std::memset(start + size, kCanary, kCanaryBytes);
    } else {
        std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        a.mapped = (size + page - 1) / page * page + page;
        a.mapping = mmap(nullptr, a.mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a.mapping == MAP_FAILED) return OUT_OF_MEMORY;
        char* guardPage = static_cast<char*>(a.mapping) + a.mapped - page;
        if (mprotect(guardPage, page, PROT_NONE) != 0) {
            munmap(a.mapping, a.mapped);
            return OUT_OF_MEMORY;
        }
        start = guardPage - size;
    }
    // Fresh device memory is not zero on a GPU: fill it with NaN bits so a kernel that reads what
    // it never wrote shows it. Not the huge ones (a test's ballast): filling would take real memory.
    if (size <= kFillUpTo) std::memset(start, 0xff, size);
    allocations[reinterpret_cast<std::uintptr_t>(start)] = a;
    allocatedBytes += size;
    *pointer = reinterpret_cast<Deviceptr>(start);
    return SUCCESS;
}

int cuMemFree_v2(Deviceptr pointer) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    auto it = allocations.find(static_cast<std::uintptr_t>(pointer));
    if (it == allocations.end()) return INVALID_VALUE;
    drainAll(); // queued work may still use it; the driver waits for it too
    if (stickyError != SUCCESS) return stickyError;
    checkCanary(it->first, "cuMemFree");
    allocatedBytes -= rounded(it->second.bytes);
    if (it->second.canary) {
        std::free(it->second.mapping);
    } else {
        munmap(it->second.mapping, it->second.mapped);
    }
    allocations.erase(it);
    return stickyError;
}

int cuMemGetInfo_v2(std::size_t* freeBytes, std::size_t* totalBytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (freeBytes == nullptr || totalBytes == nullptr) return INVALID_VALUE;
    *totalBytes = memoryLimit();
    *freeBytes = memoryLimit() - allocatedBytes;
    return SUCCESS;
}

int cuMemHostAlloc(void** pointer, std::size_t bytes, unsigned flags) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (pointer == nullptr || bytes == 0 || flags > 0xf) return INVALID_VALUE;
    void* p = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (p == nullptr) return OUT_OF_MEMORY;
    pinned.insert(p);
    *pointer = p;
    return SUCCESS;
}

int cuMemFreeHost(void* pointer) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (pinned.erase(pointer) == 0) return INVALID_VALUE;
    drainAll(); // a queued copy may still read it
    std::free(pointer);
    return SUCCESS;
}

static int copyChecked(const char* what, Deviceptr device, std::size_t bytes) {
    if (bytes == 0) return SUCCESS;
    if (allocationHolding(device, bytes) == nullptr) {
        std::fprintf(stderr, "emulated CUDA driver: %s of %zu bytes at %s is outside every allocation\n", what, bytes,
                     hex(device).c_str());
        return INVALID_VALUE;
    }
    return SUCCESS;
}

int cuMemcpyHtoD_v2(Deviceptr dst, const void* src, std::size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (int rc = copyChecked("cuMemcpyHtoD", dst, bytes)) return rc;
    if (anyCapture()) return refuseDuringCapture(STREAM_CAPTURE_IMPLICIT);
    drainAll();
    if (stickyError != SUCCESS) return stickyError;
    std::memcpy(reinterpret_cast<void*>(dst), src, bytes);
    return SUCCESS;
}

int cuMemcpyDtoH_v2(void* dst, Deviceptr src, std::size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (int rc = copyChecked("cuMemcpyDtoH", src, bytes)) return rc;
    if (anyCapture()) return refuseDuringCapture(STREAM_CAPTURE_IMPLICIT);
    drainAll();
    if (stickyError != SUCCESS) return stickyError;
    std::memcpy(dst, reinterpret_cast<const void*>(src), bytes);
    return SUCCESS;
}

int cuMemcpyDtoD_v2(Deviceptr dst, Deviceptr src, std::size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (int rc = copyChecked("cuMemcpyDtoD (destination)", dst, bytes)) return rc;
    if (int rc = copyChecked("cuMemcpyDtoD (source)", src, bytes)) return rc;
    if (anyCapture()) return refuseDuringCapture(STREAM_CAPTURE_IMPLICIT);
    drainAll();
    if (stickyError != SUCCESS) return stickyError;
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
    return SUCCESS;
}

int cuMemcpyHtoDAsync_v2(Deviceptr dst, const void* src, std::size_t bytes, void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (!validStream(stream)) return INVALID_HANDLE;
    if (int rc = copyChecked("cuMemcpyHtoDAsync", dst, bytes)) return rc;
    // the host buffer is read when the copy runs, as the DMA engine would
    return submit(stream, Work{[dst, src, bytes] { std::memcpy(reinterpret_cast<void*>(dst), src, bytes); },
                               "cuMemcpyHtoDAsync of " + std::to_string(bytes) + " bytes"});
}

int cuMemcpyDtoHAsync_v2(void* dst, Deviceptr src, std::size_t bytes, void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (!validStream(stream)) return INVALID_HANDLE;
    if (int rc = copyChecked("cuMemcpyDtoHAsync", src, bytes)) return rc;
    return submit(stream, Work{[dst, src, bytes] { std::memcpy(dst, reinterpret_cast<const void*>(src), bytes); },
                               "cuMemcpyDtoHAsync of " + std::to_string(bytes) + " bytes"});
}

int cuMemcpyDtoDAsync_v2(Deviceptr dst, Deviceptr src, std::size_t bytes, void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (!validStream(stream)) return INVALID_HANDLE;
    if (int rc = copyChecked("cuMemcpyDtoDAsync (destination)", dst, bytes)) return rc;
    if (int rc = copyChecked("cuMemcpyDtoDAsync (source)", src, bytes)) return rc;
    return submit(stream, Work{[dst, src, bytes] {
                                   std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
                               },
                               "cuMemcpyDtoDAsync of " + std::to_string(bytes) + " bytes"});
}

// --- streams, events ------------------------------------------------------------------------------

int cuStreamCreate(void** stream, unsigned flags) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (stream == nullptr || flags > 1) return INVALID_VALUE;
    Stream* s = new Stream();
    streams.insert(s);
    *stream = s;
    return SUCCESS;
}

int cuStreamDestroy_v2(void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    Stream* s = streamOf(stream);
    if (s == nullptr || streams.erase(s) == 0) return INVALID_HANDLE;
    if (s->capturing) {
        delete s->graph;
    }
    delete s;
    return SUCCESS;
}

int cuStreamSynchronize(void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (!validStream(stream)) return INVALID_HANDLE;
    Stream* s = streamOf(stream);
    if ((s != nullptr && s->capturing) || (s == nullptr && anyCapture())) {
        return refuseDuringCapture(STREAM_CAPTURE_UNSUPPORTED);
    }
    drainAll();
    return stickyError;
}

int cuStreamIsCapturing(void* stream, int* status) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (!validStream(stream) || status == nullptr) return INVALID_VALUE;
    Stream* s = streamOf(stream);
    *status = s == nullptr || !s->capturing ? 0 : (s->invalidated ? 2 : 1);
    return SUCCESS;
}

int cuEventCreate(void** event, unsigned flags) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (event == nullptr || flags > 0xf) return INVALID_VALUE;
    auto e = std::make_shared<Event>();
    e->flags = flags;
    events[e.get()] = e;
    *event = e.get();
    return SUCCESS;
}

int cuEventDestroy_v2(void* event) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    // returns at once, as the driver does; a record still queued keeps its own reference
    if (events.erase(static_cast<Event*>(event)) == 0) return INVALID_HANDLE;
    return SUCCESS;
}

int cuEventRecord(void* event, void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    auto found = events.find(static_cast<Event*>(event));
    if (found == events.end() || !validStream(stream)) return INVALID_HANDLE;
    std::shared_ptr<Event> e = found->second;
    Stream* s = streamOf(stream);
    if (s != nullptr && s->capturing) {
        // Inside a capture an event record orders work between streams; it is no graph node here.
        return s->invalidated ? STREAM_CAPTURE_INVALIDATED : SUCCESS;
    }
    // Only the latest record completes the event: an earlier one still queued is superseded.
    std::uint64_t sequence = issued + 1;
    int rc = submit(stream, Work{[e, sequence] {
                                     if (e->sequence != sequence) return;
                                     e->pending = false;
                                     e->when = std::chrono::steady_clock::now();
                                 },
                                 "cuEventRecord"});
    if (rc != SUCCESS) return rc;
    e->recorded = true;
    e->pending = true;
    e->sequence = sequence;
    return SUCCESS;
}

int cuEventSynchronize(void* event) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    Event* e = static_cast<Event*>(event);
    if (events.count(e) == 0) return INVALID_HANDLE;
    if (e->pending) drainUntil(e->sequence);
    return stickyError;
}

// Runs the work up to the event first: a caller polling for completion must see it come (finishing
// early is one of the schedules a GPU may choose).
int cuEventQuery(void* event) { return cuEventSynchronize(event); }

int cuEventElapsedTime(float* milliseconds, void* start, void* end) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    Event* a = static_cast<Event*>(start);
    Event* b = static_cast<Event*>(end);
    if (milliseconds == nullptr) return INVALID_VALUE;
    if (events.count(a) == 0 || events.count(b) == 0) return INVALID_HANDLE;
    if ((a->flags & 2) != 0 || (b->flags & 2) != 0) return INVALID_HANDLE; // CU_EVENT_DISABLE_TIMING
    if (!a->recorded || !b->recorded) return INVALID_HANDLE;
    if (a->pending || b->pending) return NOT_READY;
    *milliseconds = std::chrono::duration<float, std::milli>(b->when - a->when).count();
    return SUCCESS;
}

// --- modules and launches -------------------------------------------------------------------------

int cuModuleLoadData(void** module, const void* image) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (module == nullptr || image == nullptr) return INVALID_VALUE;
    std::uint32_t magic;
    std::memcpy(&magic, image, sizeof magic);
    if (magic != 0xBA55ED50u) return INVALID_IMAGE; // a fatbin's magic; the code in it is not used
    modules++;
    *module = &kernels();
    return SUCCESS;
}

int cuModuleUnload(void* module) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (module != &kernels() || modules == 0) return INVALID_HANDLE;
    modules--;
    return SUCCESS;
}

int cuModuleGetFunction(void** function, void* module, const char* name) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    if (function == nullptr || name == nullptr) return INVALID_VALUE;
    if (module != &kernels() || modules == 0) return INVALID_HANDLE;
    for (KernelEntry& k : kernels()) {
        if (std::strcmp(k.name, name) == 0) {
            *function = &k;
            return SUCCESS;
        }
    }
    return NOT_FOUND;
}

int cuLaunchKernel(void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned sharedBytes, void* stream, void** params, void** extra) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    KernelEntry* k = static_cast<KernelEntry*>(function);
    bool known = false;
    for (KernelEntry& e : kernels()) known |= &e == k;
    if (!known) return INVALID_HANDLE;
    if (!validStream(stream)) return INVALID_HANDLE;
    char what[256];
    std::snprintf(what, sizeof what, "%s<<<(%u,%u,%u), (%u,%u,%u), %u>>>", k->name, gx, gy, gz, bx, by, bz,
                  sharedBytes);
    unsigned long long threads = 1ull * bx * by * bz;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || threads > 1024 || bz > 64 || gx > 2147483647u ||
        gy > 65535 || gz > 65535 || extra != nullptr || (params == nullptr)) {
        std::fprintf(stderr, "emulated CUDA driver: invalid launch %s\n", what);
        return INVALID_VALUE;
    }
    if (sharedBytes != 0) {
        std::fprintf(stderr, "emulated CUDA driver: %s asks for dynamic shared memory, which is not emulated\n", what);
        return NOT_SUPPORTED;
    }
    if (threads % 32 != 0) {
        std::fprintf(stderr, "emulated CUDA driver: %s: the emulation needs blocks of a multiple of 32 threads\n", what);
        return NOT_SUPPORTED;
    }
    return submit(stream, Work{k->bind(dim3(gx, gy, gz), dim3(bx, by, bz), params), what});
}

// --- graphs ---------------------------------------------------------------------------------------

int cuStreamBeginCapture_v2(void* stream, int mode) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    Stream* s = streamOf(stream);
    if (s == nullptr) return STREAM_CAPTURE_UNSUPPORTED; // the legacy stream cannot be captured
    if (streams.count(s) == 0) return INVALID_HANDLE;
    if (mode < 0 || mode > 2) return INVALID_VALUE;
    if (mode != 2) {
        std::fprintf(stderr, "emulated CUDA driver: only CU_STREAM_CAPTURE_MODE_RELAXED is emulated (asked for %d)\n", mode);
        return NOT_SUPPORTED;
    }
    if (s->capturing) return STREAM_CAPTURE_UNSUPPORTED;
    s->capturing = true;
    s->invalidated = false;
    s->graph = new Graph();
    return SUCCESS;
}

int cuStreamEndCapture(void* stream, void** graph) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    Stream* s = streamOf(stream);
    if (s == nullptr || streams.count(s) == 0) return INVALID_HANDLE;
    if (graph == nullptr) return INVALID_VALUE;
    if (!s->capturing) return INVALID_VALUE; // CUDA_ERROR_ILLEGAL_STATE on newer drivers
    Graph* g = s->graph;
    bool invalidated = s->invalidated;
    s->capturing = false;
    s->invalidated = false;
    s->graph = nullptr;
    if (invalidated) {
        delete g;
        *graph = nullptr;
        return STREAM_CAPTURE_INVALIDATED;
    }
    graphs.insert(g);
    *graph = g;
    return SUCCESS;
}

int cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long flags) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    Graph* g = static_cast<Graph*>(graph);
    if (exec == nullptr || flags != 0) return INVALID_VALUE;
    if (graphs.count(g) == 0) return INVALID_HANDLE;
    Graph* copy = new Graph(*g); // an executable graph is a snapshot of the graph
    execs.insert(copy);
    *exec = copy;
    return SUCCESS;
}

int cuGraphLaunch(void* exec, void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    Graph* g = static_cast<Graph*>(exec);
    if (execs.count(g) == 0 || !validStream(stream)) return INVALID_HANDLE;
    for (const Work& w : g->work) {
        if (int rc = submit(stream, Work{w.run, "graph: " + w.what})) return rc;
    }
    return SUCCESS;
}

int cuGraphExecDestroy(void* exec) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    Graph* g = static_cast<Graph*>(exec);
    if (execs.erase(g) == 0) return INVALID_HANDLE;
    delete g; // returns at once, as the driver does: queued replays hold copies of its work
    return SUCCESS;
}

int cuGraphDestroy(void* graph) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    REQUIRE_INIT();
    Graph* g = static_cast<Graph*>(graph);
    if (graphs.erase(g) == 0) return INVALID_HANDLE;
    delete g;
    return SUCCESS;
}

// --- cuBLAS ---------------------------------------------------------------------------------------
// The few cuBLAS calls the backend's direct path makes (NativeCublasGemm), so that path runs too:
// build.sh links libcublas.so.13 to this library (glibc then loads it once, under both names).
// The GEMM is the reference loop in double, column-major as cuBLAS defines it: whether the backend
// passes its row-major operands right (swapped, transposed, leading dimensions, batch strides) is
// what this checks, not cuBLAS's speed or rounding. TF32 math mode is accepted and computed in full
// precision.

} // extern "C"

namespace {

enum CublasStatus : int { CUBLAS_SUCCESS = 0, CUBLAS_NOT_INITIALIZED = 1, CUBLAS_INVALID_VALUE = 7 };

struct CublasHandle {
    void* stream = nullptr;
};

std::set<CublasHandle*> cublasHandles;

// Bytes spanned by `batch` column-major matrices of rows x cols with leading dimension ld.
std::size_t span(int rows, int cols, int ld, long long stride, int batch, std::size_t element) {
    if (rows == 0 || cols == 0 || batch == 0) return 0;
    return ((std::size_t)(cols - 1) * ld + rows + (std::size_t)(batch - 1) * stride) * element;
}

template <typename T>
int gemmStridedBatched(void* handle, int transa, int transb, int m, int n, int k, const T* alpha, const T* a,
                       int lda, long long strideA, const T* b, int ldb, long long strideB, const T* beta, T* c, int ldc,
                       long long strideC, int batch) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    CublasHandle* h = static_cast<CublasHandle*>(handle);
    if (cublasHandles.count(h) == 0) return CUBLAS_NOT_INITIALIZED;
    bool ta = transa != 0;
    bool tb = transb != 0;
    if (transa < 0 || transa > 1 || transb < 0 || transb > 1 || m < 0 || n < 0 || k < 0 || batch < 0 ||
        lda < std::max(1, ta ? k : m) || ldb < std::max(1, tb ? n : k) || ldc < std::max(1, m) || strideA < 0 ||
        strideB < 0 || strideC < 0) {
        return CUBLAS_INVALID_VALUE;
    }
    T al = *alpha; // host scalars (the default pointer mode) are read at the call
    T be = *beta;
    char what[160];
    std::snprintf(what, sizeof what, "cublas%cgemmStridedBatched(%c%c, m=%d, n=%d, k=%d, batch=%d)",
                  sizeof(T) == 4 ? 'S' : 'D', ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, batch);
    std::string name = what;
    Work work{[=] {
                  if (stickyError != SUCCESS) return;
                  struct Operand { const void* p; std::size_t bytes; const char* name; };
                  Operand operands[] = {
                          {a, span(ta ? k : m, ta ? m : k, lda, strideA, batch, sizeof(T)), "A"},
                          {b, span(tb ? n : k, tb ? k : n, ldb, strideB, batch, sizeof(T)), "B"},
                          {c, span(m, n, ldc, strideC, batch, sizeof(T)), "C"}};
                  for (const Operand& o : operands) {
                      if (o.bytes > 0 && allocationHolding(reinterpret_cast<Deviceptr>(o.p), o.bytes) == nullptr) {
                          std::fprintf(stderr,
                                       "emulated CUDA driver: %s reads or writes %s (%zu bytes at %p) outside every "
                                       "allocation; the context is now unusable (CUDA_ERROR_ILLEGAL_ADDRESS)\n",
                                       name.c_str(), o.name, o.bytes, o.p);
                          stickyError = 700;
                          return;
                      }
                  }
                  for (int q = 0; q < batch; q++) {
                      const T* aq = a + q * strideA;
                      const T* bq = b + q * strideB;
                      T* cq = c + q * strideC;
                      for (int j = 0; j < n; j++) {
                          for (int i = 0; i < m; i++) {
                              double sum = 0;
                              for (int p = 0; p < k; p++) {
                                  double x = ta ? aq[p + (std::size_t)i * lda] : aq[i + (std::size_t)p * lda];
                                  double y = tb ? bq[j + (std::size_t)p * ldb] : bq[p + (std::size_t)j * ldb];
                                  sum += x * y;
                              }
                              T& out = cq[i + (std::size_t)j * ldc];
                              // beta == 0: C is not read, as cuBLAS promises (it may hold NaN)
                              out = be == T(0) ? T(al * sum) : T(al * sum + be * (double)out);
                          }
                      }
                  }
              },
              name};
    int rc = submit(h->stream, std::move(work));
    return rc == SUCCESS ? CUBLAS_SUCCESS : 13; // CUBLAS_STATUS_EXECUTION_FAILED
}

} // namespace

extern "C" {

int cublasCreate_v2(void** handle) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialised || current == nullptr) return CUBLAS_NOT_INITIALIZED; // cuBLAS needs a current context
    if (handle == nullptr) return CUBLAS_INVALID_VALUE;
    CublasHandle* h = new CublasHandle();
    cublasHandles.insert(h);
    *handle = h;
    return CUBLAS_SUCCESS;
}

int cublasDestroy_v2(void* handle) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    CublasHandle* h = static_cast<CublasHandle*>(handle);
    if (cublasHandles.erase(h) == 0) return CUBLAS_NOT_INITIALIZED;
    delete h;
    return CUBLAS_SUCCESS;
}

int cublasSetStream_v2(void* handle, void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    CublasHandle* h = static_cast<CublasHandle*>(handle);
    if (cublasHandles.count(h) == 0) return CUBLAS_NOT_INITIALIZED;
    if (!validStream(stream)) return CUBLAS_INVALID_VALUE;
    h->stream = stream;
    return CUBLAS_SUCCESS;
}

int cublasSetMathMode(void* handle, int mode) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    CublasHandle* h = static_cast<CublasHandle*>(handle);
    if (cublasHandles.count(h) == 0) return CUBLAS_NOT_INITIALIZED;
    // default or TF32 tensor-op math; both are computed in full precision here
    return mode == 0 || mode == 3 ? CUBLAS_SUCCESS : CUBLAS_INVALID_VALUE;
}

int cublasSgemmStridedBatched(void* handle, int transa, int transb, int m, int n, int k, const float* alpha,
                              const float* a, int lda, long long strideA, const float* b, int ldb, long long strideB,
                              const float* beta, float* c, int ldc, long long strideC, int batch) {
    return gemmStridedBatched(handle, transa, transb, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc,
                              strideC, batch);
}

int cublasDgemmStridedBatched(void* handle, int transa, int transb, int m, int n, int k, const double* alpha,
                              const double* a, int lda, long long strideA, const double* b, int ldb, long long strideB,
                              const double* beta, double* c, int ldc, long long strideC, int batch) {
    return gemmStridedBatched(handle, transa, transb, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc,
                              strideC, batch);
}

// --- errors ---------------------------------------------------------------------------------------

int cuGetErrorName(int error, const char** name) {
    if (name == nullptr) return INVALID_VALUE;
    switch (error) {
        case SUCCESS: *name = "CUDA_SUCCESS"; return SUCCESS;
        case INVALID_VALUE: *name = "CUDA_ERROR_INVALID_VALUE"; return SUCCESS;
        case OUT_OF_MEMORY: *name = "CUDA_ERROR_OUT_OF_MEMORY"; return SUCCESS;
        case NOT_INITIALIZED: *name = "CUDA_ERROR_NOT_INITIALIZED"; return SUCCESS;
        case INVALID_CONTEXT: *name = "CUDA_ERROR_INVALID_CONTEXT"; return SUCCESS;
        case INVALID_HANDLE: *name = "CUDA_ERROR_INVALID_HANDLE"; return SUCCESS;
        case NOT_FOUND: *name = "CUDA_ERROR_NOT_FOUND"; return SUCCESS;
        case NOT_READY: *name = "CUDA_ERROR_NOT_READY"; return SUCCESS;
        case NOT_SUPPORTED: *name = "CUDA_ERROR_NOT_SUPPORTED"; return SUCCESS;
        case STREAM_CAPTURE_UNSUPPORTED: *name = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"; return SUCCESS;
        case STREAM_CAPTURE_INVALIDATED: *name = "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"; return SUCCESS;
        case STREAM_CAPTURE_IMPLICIT: *name = "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT"; return SUCCESS;
        default: *name = nullptr; return INVALID_VALUE;
    }
}

int cuGetErrorString(int error, const char** text) { return cuGetErrorName(error, text); }

} // extern "C"
