"""Run the fused neuron kernels' CUDA source on the CPU: see :mod:`.emulator`."""
