// Launch glue of the CUDA emulation: kernel signature as a type string, and a call from packed
// kernel parameters (void** as cuLaunchKernel takes them) through that signature.
#pragma once
#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

using EmuBody = std::function<void()>;
int emu_run_grid(unsigned grid, unsigned block, const EmuBody& body);

// One letter per C parameter type: P pointer, q long long, i int, f float, d double, ? anything else.
template <class T>
constexpr char emu_code() {
    if constexpr (std::is_pointer_v<T>) return 'P';
    else if constexpr (std::is_same_v<T, long long>) return 'q';
    else if constexpr (std::is_same_v<T, int>) return 'i';
    else if constexpr (std::is_same_v<T, float>) return 'f';
    else if constexpr (std::is_same_v<T, double>) return 'd';
    else return '?';
}

template <class... A>
const char* emu_signature(void (*)(A...)) {
    static const char codes[] = {emu_code<A>()..., '\0'};
    return codes;
}

template <class... A, std::size_t... I>
void emu_call(void (*kernel)(A...), void** params, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<A>*>(params[I])...);
}

template <class... A>
int emu_launch(void (*kernel)(A...), unsigned grid, unsigned block, void** params) {
    return emu_run_grid(grid, block, [=] { emu_call(kernel, params, std::index_sequence_for<A...>{}); });
}

// Exports <prefix>_forward / _backward (launch) and <prefix>_forward_sig / _backward_sig (signature).
#define EMU_EXPORT(prefix, kernel)                                                                     \
    extern "C" int prefix(unsigned grid, unsigned block, void** params) {                             \
        return emu_launch(kernel, grid, block, params);                                                \
    }                                                                                                  \
    extern "C" const char* prefix##_sig() { return emu_signature(kernel); }
