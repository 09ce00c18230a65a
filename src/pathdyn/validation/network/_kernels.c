/*
 * Thin products of one gradient-descent step, each reading the wide weight once.
 *
 * With few samples (P <= 8) every large product of a step is a wide N x N weight times
 * a thin N x P block. BLAS runs these through gemm, which packs (copies) the weight on
 * every call and then reaches only 10-25 GFLOP/s on one core (measured at width 4096). These
 * kernels instead stream the weight straight from memory, in its column-major layout,
 * and keep the thin operand in the cache with the P samples of one row as one vector:
 *
 *   pd_nn:  Y = W X        (the forward product)
 *   pd_tn:  Z = W^T G      (the backward product)
 *
 * W is m x n, column-major with leading dimension ldw. X, Y, G, Z are row-major with
 * exactly 8 columns (the caller pads P < 8 with zero columns): row i is one vector of 8
 * lanes, so each weight entry meets all samples in one fused multiply-add.
 *
 * The summation order is fixed, so results are reproducible bit for bit on one machine.
 * The module is an ordinary (empty) Python extension so that setuptools builds it; the
 * functions are called through ctypes (pathdyn.validation.network.kernels), which releases the
 * GIL, so pathways can run in parallel threads.
 */
#include <Python.h>
#include <stddef.h>
#include <string.h>

/* One build for every x86-64 CPU: AVX-512, AVX2 + FMA and baseline versions, picked at load. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 12
#define PD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 6
#define PD_CLONES __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#else
#define PD_CLONES
#endif

/* Block sizes (measured at width 4096 on a Zen 5 core, L1 12-way). Columns of W are a
 * multiple of 4 KB apart when the width is a multiple of 512, so the lines that a block
 * of columns touches at one row all fall in one L1 set: blocks of 16 columns thrashed it
 * (the backward product ran 1.6x slower in double, 2.7x in single precision). */
#ifndef ROWS
#define ROWS 16 /* rows of Y held in registers while a block of columns of W streams by */
#endif
#ifndef COLS
#define COLS 8 /* columns of W streamed together: their rows of Z in registers (pd_tn), */
#endif         /* or the columns met per row block (pd_nn) */

#define DEFINE_KERNELS(T, V, SUFFIX)                                                             \
    typedef T V __attribute__((vector_size(8 * sizeof(T)), aligned(sizeof(T))));                 \
                                                                                                 \
    PD_CLONES void pd_nn_##SUFFIX(int m, int n, const T *W, ptrdiff_t ldw, const T *X, T *Y)    \
    {                                                                                            \
        memset(Y, 0, sizeof(T) * 8 * (size_t)m);                                                 \
        for (int j0 = 0; j0 < n; j0 += COLS) {                                                  \
            const int j1 = j0 + COLS < n ? j0 + COLS : n;                                        \
            int i0 = 0;                                                                          \
            for (; i0 + ROWS <= m; i0 += ROWS) {                                                 \
                V acc[ROWS];                                                                     \
                for (int r = 0; r < ROWS; r++) acc[r] = *(const V *)(Y + 8 * (ptrdiff_t)(i0 + r)); \
                for (int j = j0; j < j1; j++) {                                                  \
                    const V x = *(const V *)(X + 8 * (ptrdiff_t)j);                              \
                    const T *w = W + (ptrdiff_t)j * ldw + i0;                                    \
                    for (int r = 0; r < ROWS; r++) acc[r] += w[r] * x;                           \
                }                                                                                \
                for (int r = 0; r < ROWS; r++) *(V *)(Y + 8 * (ptrdiff_t)(i0 + r)) = acc[r];     \
            }                                                                                    \
            for (; i0 < m; i0++) {                                                               \
                V acc = *(const V *)(Y + 8 * (ptrdiff_t)i0);                                     \
                for (int j = j0; j < j1; j++)                                                    \
                    acc += W[(ptrdiff_t)j * ldw + i0] * *(const V *)(X + 8 * (ptrdiff_t)j);      \
                *(V *)(Y + 8 * (ptrdiff_t)i0) = acc;                                             \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    PD_CLONES void pd_tn_##SUFFIX(int m, int n, const T *W, ptrdiff_t ldw, const T *G, T *Z)    \
    {                                                                                            \
        int j0 = 0;                                                                              \
        for (; j0 + COLS <= n; j0 += COLS) {                                                     \
            V acc[COLS];                                                                         \
            for (int c = 0; c < COLS; c++) acc[c] = (V){0};                                      \
            const T *w = W + (ptrdiff_t)j0 * ldw;                                                \
            for (int i = 0; i < m; i++) {                                                        \
                const V g = *(const V *)(G + 8 * (ptrdiff_t)i);                                  \
                for (int c = 0; c < COLS; c++) acc[c] += w[i + c * ldw] * g;                     \
            }                                                                                    \
            for (int c = 0; c < COLS; c++) *(V *)(Z + 8 * (ptrdiff_t)(j0 + c)) = acc[c];         \
        }                                                                                        \
        for (; j0 < n; j0++) {                                                                   \
            V acc = (V){0};                                                                      \
            const T *w = W + (ptrdiff_t)j0 * ldw;                                                \
            for (int i = 0; i < m; i++) acc += w[i] * *(const V *)(G + 8 * (ptrdiff_t)i);        \
            *(V *)(Z + 8 * (ptrdiff_t)j0) = acc;                                                 \
        }                                                                                        \
    }

DEFINE_KERNELS(double, pd_v8d, d)
DEFINE_KERNELS(float, pd_v8f, s)

static struct PyModuleDef pd_module = {PyModuleDef_HEAD_INIT, "_kernels",
                                       "Thin-product kernels, called through ctypes.", -1, NULL};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&pd_module); }
