// CPU shim for the CUDA subset used by snn_zoo/neurons/csrc/multistep.cu, so g++ compiles the exact
// source NVRTC compiles. Test infrastructure only (tests/neurons/test_cuda_emulation.py).
//
// Execution model: a block's threads are cooperative fibers (ucontext) on one OS thread. A fiber runs
// until it reaches __shfl_down_sync or __syncthreads, where it parks; the scheduler releases a warp's
// shuffle only when all 32 lanes of that warp wait on a shuffle with the same offset and mask, and the
// block barrier only when every thread of the block waits on it. Anything else (a lane that returned,
// lanes at different sync points, a thread skipping the barrier) is reported as an error: on a GPU it
// is undefined behaviour or a hang.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

// ---- keywords ----------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __shared__ static thread_local  // one copy per block: blocks run one after another

// ---- indices -------------------------------------------------------------------------------------
struct emu_dim3 {
    unsigned int x = 1, y = 1, z = 1;
};
extern emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

// ---- fp16 / bf16 storage types, round-to-nearest-even conversions (bit exact) --------------------
struct __half {
    uint16_t bits;
};
struct __nv_bfloat16 {
    uint16_t bits;
};

static inline uint32_t emu_f2u(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
static inline float emu_u2f(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

static inline float __half2float(const __half h) {
    const uint32_t sign = static_cast<uint32_t>(h.bits & 0x8000u) << 16;
    const uint32_t exp = (h.bits >> 10) & 0x1fu;
    uint32_t mant = h.bits & 0x3ffu;
    if (exp == 0x1f) return emu_u2f(sign | 0x7f800000u | (mant << 13));  // inf / nan
    if (exp == 0) {
        if (mant == 0) return emu_u2f(sign);
        // subnormal: value = mant * 2^-24, exact in fp32
        const float v = static_cast<float>(mant) * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return emu_u2f(sign | ((exp + 112u) << 23) | (mant << 13));
}

static inline __half __float2half_rn(const float f) {
    const uint32_t u = emu_f2u(f);
    const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    const uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return __half{static_cast<uint16_t>(sign | 0x7e00u)};  // nan
    if (abs >= 0x477ff000u) return __half{static_cast<uint16_t>(sign | 0x7c00u)};  // rounds to inf
    const int exp = static_cast<int>(abs >> 23) - 127;
    if (exp >= -14) {  // normal half
        const uint32_t mant = abs & 0x7fffffu;
        uint32_t h = (static_cast<uint32_t>(exp + 15) << 10) | (mant >> 13);
        const uint32_t rest = mant & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into the exponent correctly
        return __half{static_cast<uint16_t>(sign | h)};
    }
    if (exp < -25) return __half{sign};  // below half the smallest subnormal: +-0
    // subnormal half: units of 2^-24, round half to even
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;  // 24-bit significand, value mant * 2^(exp-23)
    const int shift = -exp - 1;                           // mant >> (shift) gives units of 2^-24 (shift 14..24)
    uint32_t h = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (h & 1u))) ++h;
    return __half{static_cast<uint16_t>(sign | h)};
}

static inline float __bfloat162float(const __nv_bfloat16 b) { return emu_u2f(static_cast<uint32_t>(b.bits) << 16); }

static inline __nv_bfloat16 __float2bfloat16_rn(const float f) {
    const uint32_t u = emu_f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return __nv_bfloat16{static_cast<uint16_t>((u >> 16) | 0x40u)};  // nan
    const uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);
    return __nv_bfloat16{static_cast<uint16_t>(rounded >> 16)};
}

// ---- synchronisation (implemented in emu_runtime.h) ---------------------------------------------
float __shfl_down_sync(unsigned int mask, float value, unsigned int delta);
void __syncthreads();

// atomicAdd: blocks run one at a time on one OS thread, so a plain read-modify-write is atomic here.
static inline float atomicAdd(float* address, const float value) {
    const float old = *address;
    *address = old + value;
    return old;
}
