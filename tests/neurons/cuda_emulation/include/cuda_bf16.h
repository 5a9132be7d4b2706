// Empty: the shim (cuda_shim.h, included first) defines __nv_bfloat16 and its conversions.
#pragma once
