// Block scheduler of the CUDA emulation: one cooperative fiber (ucontext) per CUDA thread.
// See cuda_shim.h for the semantics enforced at __shfl_down_sync and __syncthreads.
#include <ucontext.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cuda_shim.h"
#include "emu_launch.h"

emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace {

enum State { RUNNABLE, AT_SHFL, AT_SYNC, DONE };

struct Fiber {
    ucontext_t ctx;
    State state;
    unsigned tid;
    float value, result;
    unsigned delta, mask;
};

constexpr size_t STACK_BYTES = 64 * 1024;
ucontext_t scheduler;
std::vector<Fiber> fibers;
std::vector<char> stacks;
Fiber* current = nullptr;
const EmuBody* body = nullptr;
std::string error;

void fiber_main() {
    (*body)();
    current->state = DONE;  // returning switches to uc_link (the scheduler)
}

void park(State state) {
    current->state = state;
    swapcontext(&current->ctx, &scheduler);
}

bool fail(const std::string& message) {
    if (error.empty()) error = message;
    return false;
}

std::string where(unsigned tid) {
    return "block " + std::to_string(blockIdx.x) + " thread " + std::to_string(tid);
}

// Release every warp whose 32 lanes all wait on the same shuffle; false on a malformed shuffle.
bool release_shuffles(unsigned nthreads, bool& progressed) {
    for (unsigned base = 0; base < nthreads; base += 32) {
        unsigned waiting = 0;
        for (unsigned l = 0; l < 32 && base + l < nthreads; ++l) waiting += fibers[base + l].state == AT_SHFL;
        if (waiting == 0) continue;
        if (base + 32 > nthreads) return fail(where(base) + ": __shfl_down_sync in a partial warp (block not whole warps)");
        for (unsigned l = 0; l < 32; ++l) {
            const Fiber& f = fibers[base + l];
            if (f.state != AT_SHFL)
                return fail(where(f.tid) + (f.state == DONE ? " exited" : " waits at __syncthreads") +
                            " while its warp waits in __shfl_down_sync (mask 0xffffffff needs all 32 lanes)");
            if (f.mask != 0xffffffffu) return fail(where(f.tid) + ": emulation supports only the full shuffle mask");
            if (f.delta != fibers[base].delta) return fail(where(f.tid) + ": lanes of one warp shuffle by different offsets");
        }
        for (unsigned l = 0; l < 32; ++l) {
            Fiber& f = fibers[base + l];
            const unsigned src = l + f.delta;
            f.result = src < 32 ? fibers[base + src].value : f.value;
        }
        for (unsigned l = 0; l < 32; ++l) fibers[base + l].state = RUNNABLE;
        progressed = true;
    }
    return true;
}

bool run_block(unsigned nthreads) {
    for (unsigned t = 0; t < nthreads; ++t) {
        Fiber& f = fibers[t];
        f = Fiber{};
        f.tid = t;
        f.state = RUNNABLE;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = stacks.data() + t * STACK_BYTES;
        f.ctx.uc_stack.ss_size = STACK_BYTES;
        f.ctx.uc_link = &scheduler;
        makecontext(&f.ctx, fiber_main, 0);
    }
    for (;;) {
        for (unsigned t = 0; t < nthreads; ++t) {
            if (fibers[t].state != RUNNABLE) continue;
            current = &fibers[t];
            threadIdx.x = t;
            swapcontext(&scheduler, &current->ctx);
        }
        unsigned done = 0, at_sync = 0;
        for (unsigned t = 0; t < nthreads; ++t) {
            done += fibers[t].state == DONE;
            at_sync += fibers[t].state == AT_SYNC;
        }
        if (done == nthreads) return true;
        bool progressed = false;
        if (!release_shuffles(nthreads, progressed)) return false;
        if (progressed) continue;
        if (at_sync == nthreads) {
            for (unsigned t = 0; t < nthreads; ++t) fibers[t].state = RUNNABLE;
            continue;
        }
        return fail("block " + std::to_string(blockIdx.x) + ": __syncthreads reached by " + std::to_string(at_sync) +
                    " of " + std::to_string(nthreads) + " threads (" + std::to_string(done) +
                    " exited): a hang or undefined behaviour on a GPU");
    }
}

}  // namespace

float __shfl_down_sync(unsigned int mask, float value, unsigned int delta) {
    current->value = value;
    current->delta = delta;
    current->mask = mask;
    park(AT_SHFL);
    return current->result;
}

void __syncthreads() { park(AT_SYNC); }

int emu_run_grid(unsigned grid, unsigned block, const EmuBody& kernel_body) {
    error.clear();
    if (block == 0 || block > 1024) return fail("block size " + std::to_string(block) + " outside 1..1024"), 1;
    fibers.assign(block, Fiber{});
    stacks.resize(static_cast<size_t>(block) * STACK_BYTES);
    body = &kernel_body;
    gridDim.x = grid;
    blockDim.x = block;
    for (unsigned b = 0; b < grid; ++b) {
        blockIdx.x = b;
        if (!run_block(block)) return 1;
    }
    return 0;
}

extern "C" const char* emu_last_error() { return error.c_str(); }

// The shim's conversions, exposed so the tests can hold them to torch's on every bit pattern.
extern "C" void emu_convert(const float* in, long long n, uint16_t* half_bits, float* half_back,
                            uint16_t* bf16_bits, float* bf16_back) {
    for (long long i = 0; i < n; ++i) {
        const __half h = __float2half_rn(in[i]);
        const __nv_bfloat16 b = __float2bfloat16_rn(in[i]);
        half_bits[i] = h.bits;
        bf16_bits[i] = b.bits;
        half_back[i] = __half2float(h);
        bf16_back[i] = __bfloat162float(b);
    }
}
