// Stand-in for CUDA's math_constants.h: the CUDART_* constants the kernels use, as g++ constants.
#pragma once

#define CUDART_INF_F            __builtin_huge_valf()
#define CUDART_NAN_F            __builtin_nanf("")
#define CUDART_MIN_DENORM_F     1.40129846e-45f
#define CUDART_MAX_NORMAL_F     3.40282347e+38f
#define CUDART_NEG_ZERO_F       (-0.0f)
#define CUDART_ZERO_F           0.0f
#define CUDART_ONE_F            1.0f
#define CUDART_SQRT_HALF_F      0.707106781f
#define CUDART_SQRT_TWO_F       1.414213562f
#define CUDART_PI_F             3.141592654f
#define CUDART_L2E_F            1.442695041f
#define CUDART_LN2_F            0.693147181f

#define CUDART_INF              __builtin_huge_val()
#define CUDART_NAN              __builtin_nan("")
#define CUDART_MIN_DENORM       4.9406564584124654e-324
#define CUDART_NEG_ZERO         (-0.0)
#define CUDART_ZERO             0.0
#define CUDART_ONE              1.0
#define CUDART_SQRT_HALF        7.0710678118654757e-1
#define CUDART_SQRT_2           1.4142135623730951e+0
#define CUDART_PI               3.1415926535897931e+0
#define CUDART_L2E              1.4426950408889634e+0
#define CUDART_LN2              6.9314718055994529e-1
