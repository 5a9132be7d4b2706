// Fused multi-step IF / LIF / PLIF neuron kernels (forward and backward), one thread per neuron.
// A string.Template: snn_zoo.neurons.cupy_kernel.kernel_source() fills the $$placeholders per
// KernelVariant (storage dtype, neuron kind, reset flags, surrogate body) and NVRTC compiles it
// (snn_zoo.neurons.nvrtc). Float constants (threshold, reset, alpha, decay) are kernel arguments.
// snn_zoo fused multi-step neuron: $variant_name
$includes
typedef $storage_type storage_t;

constexpr int KIND = $kind_id;  // 0 IF, 1 LIF, 2 PLIF
constexpr bool HARD_RESET = $hard_reset;
constexpr bool DETACH_RESET = $detach_reset;
constexpr bool DECAY_INPUT = $decay_input;
constexpr int BLOCK = $block_size;
static_assert(BLOCK % 32 == 0 && BLOCK <= 1024, "block must be whole warps");

static __forceinline__ float to_float(const storage_t v) { return $to_float(v); }
static __forceinline__ storage_t from_float(const float v) { return $from_float(v); }

// Surrogate derivative, x = h - v_threshold (body from snn_zoo.neurons.surrogates).
static __forceinline__ float surrogate_grad(const float x, const float alpha) {
    $surrogate_body
}

// Membrane after firing; the same values as torch_kernel.membrane_after_spike (s is 0 or 1).
static __forceinline__ float fire_reset(const float h, const float s, const float v_th, const float v_reset) {
    if constexpr (HARD_RESET) {
        return h * (1.0f - s) + v_reset * s;
    } else {
        return h - s * v_th;
    }
}

extern "C" __global__ void __launch_bounds__(BLOCK) snn_multistep_forward(
    const storage_t* __restrict__ x, const float* __restrict__ v_init, const float* __restrict__ k_ptr,
    storage_t* __restrict__ s_out, storage_t* __restrict__ h_out, float* __restrict__ v_last,
    const float k_val, const float v_th, const float v_reset, const long long T, const long long N)
{
    const long long i = static_cast<long long>(blockIdx.x) * BLOCK + threadIdx.x;
    if (i >= N) return;
    float k = k_val;
    if constexpr (KIND == 2) k = *k_ptr;
    float v = v_init[i];
    long long idx = i;
    // Unrolled so the independent loads of x for later steps are issued early.
    #pragma unroll 4
    for (long long t = 0; t < T; ++t, idx += N) {
        const float xt = to_float(x[idx]);
        float h;
        if constexpr (KIND == 0) {
            h = v + xt;
        } else if constexpr (DECAY_INPUT) {
            h = v + k * (xt - (v - v_reset));
        } else {
            h = v - k * (v - v_reset) + xt;
        }
        // Round h to the storage dtype before firing, exactly like the torch kernel.
        const storage_t hq = from_float(h);
        if (h_out != nullptr) h_out[idx] = hq;  // null when nothing needs a backward
        h = to_float(hq);
        const float s = h >= v_th ? 1.0f : 0.0f;
        s_out[idx] = from_float(s);
        v = fire_reset(h, s, v_th, v_reset);
    }
    v_last[i] = v;
}

extern "C" __global__ void __launch_bounds__(BLOCK) snn_multistep_backward(
    const storage_t* __restrict__ grad_s, const storage_t* __restrict__ h_seq,
    const float* __restrict__ v_init, const float* __restrict__ k_ptr,
    storage_t* __restrict__ grad_x, float* __restrict__ grad_k,
    const float k_val, const float one_minus_k, const float v_th, const float v_reset, const float alpha,
    const long long T, const long long N)
{
    const long long i = static_cast<long long>(blockIdx.x) * BLOCK + threadIdx.x;
    float k = k_val;
    float omk = one_minus_k;  // LIF: (1 - k) rounded once from double, as torch does with a Python float
    if constexpr (KIND == 2) {
        k = *k_ptr;
        omk = 1.0f - k;
    }
    float gk = 0.0f;  // this thread's share of dL/dk (PLIF)
    // No early return: every thread of the block must reach the PLIF reduction below.
    if (i < N && T > 0) {
        float grad_v = 0.0f;
        long long idx = (T - 1) * N + i;
        float h_next = to_float(h_seq[idx]);
        #pragma unroll 4
        for (long long t = T - 1; t >= 0; --t, idx -= N) {
            const float h = h_next;
            // h_{t-1}: next iteration's h, and PLIF's v_{t-1}; each h is read once.
            if (t > 0) h_next = to_float(h_seq[idx - N]);
            const float sg = surrogate_grad(h - v_th, alpha);
            const float s = h >= v_th ? 1.0f : 0.0f;
            float dv_dh;
            if constexpr (HARD_RESET) {
                if constexpr (DETACH_RESET) dv_dh = 1.0f - s;
                else dv_dh = 1.0f - s + (v_reset - h) * sg;
            } else {
                if constexpr (DETACH_RESET) dv_dh = 1.0f;
                else dv_dh = 1.0f - v_th * sg;
            }
            const float grad_h = to_float(grad_s[idx]) * sg + grad_v * dv_dh;
            if constexpr (KIND == 0) {
                grad_x[idx] = from_float(grad_h);
                grad_v = grad_h;
            } else {
                if constexpr (DECAY_INPUT) grad_x[idx] = from_float(grad_h * k);
                else grad_x[idx] = from_float(grad_h);
                grad_v = grad_h * omk;
                if constexpr (KIND == 2) {
                    const float v_prev = t > 0
                        ? fire_reset(h_next, h_next >= v_th ? 1.0f : 0.0f, v_th, v_reset)
                        : v_init[i];
                    float dh_dk;
                    if constexpr (DECAY_INPUT) dh_dk = (h - v_prev) / k;
                    else dh_dk = -(v_prev - v_reset);
                    gk += grad_h * dh_dk;
                }
            }
        }
    }
    if constexpr (KIND == 2) {
        // Block sum: warp shuffles, one shared slot per warp, one atomicAdd per block.
        __shared__ float warp_sums[BLOCK / 32];
        #pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) gk += __shfl_down_sync(0xffffffffu, gk, offset);
        const int lane = threadIdx.x & 31;
        const int warp = threadIdx.x >> 5;
        if (lane == 0) warp_sums[warp] = gk;
        __syncthreads();
        if (warp == 0) {
            gk = lane < BLOCK / 32 ? warp_sums[lane] : 0.0f;
            #pragma unroll
            for (int offset = 16; offset > 0; offset >>= 1) gk += __shfl_down_sync(0xffffffffu, gk, offset);
            if (lane == 0) atomicAdd(grad_k, gk);
        }
    }
}
