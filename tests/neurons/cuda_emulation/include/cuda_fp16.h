// Empty: the shim (cuda_shim.h, included first) defines __half and its conversions.
#pragma once
