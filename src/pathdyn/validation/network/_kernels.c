/*
 * Thin products of one gradient-descent step, each reading the wide weight once.
 *
 * With few samples (P <= 8) every large product of a step is a wide N x N weight times
 * a thin N x P block. BLAS runs these through gemm, which packs (copies) the weight on
 * every call. These kernels instead stream the weight straight from memory, in its
 * column-major layout, and keep the thin operand in the cache with the 8 samples of one
 * row as one 64-byte row:
 *
 *   pd_nn:  Y = W X        (the forward product)
 *   pd_tn:  Z = W^T G      (the backward product)
 *
 * W is m x n, column-major with leading dimension ldw. X, Y, G, Z are row-major with
 * exactly 8 columns (the caller pads P < 8 with zero columns), so each weight entry meets
 * all samples in one or two fused multiply-adds.
 *
 * One variant per instruction set, each compiled for its own set with a target attribute
 * whatever flags the build uses, and picked at run time by pathdyn.validation.network.kernels:
 *
 *   avx512  8 lanes in one 512-bit (float64) or 256-bit (float32) register of the 32 that
 *           AVX-512F with VL has; 16 row accumulators in pd_nn.
 *   avx2    8 lanes in two 256-bit registers; the blocks are sized so that accumulators,
 *           the thin row and the broadcast weight fit the 16 registers (the 8-lane code
 *           compiled for AVX2 needs 32 and spills: slower than BLAS).
 *
 * No variant for older instruction sets: there BLAS does every product.
 * pd_cpu_paths says which variants this build holds and the CPU runs (cpuid, including
 * whether the operating system saves the wide registers).
 *
 * The summation order of each variant is fixed, so results are reproducible bit for bit
 * on one machine with one variant. The module is an ordinary (empty) Python extension so
 * that setuptools builds it; the functions are called through ctypes, which releases the
 * GIL, so pathways can run in parallel threads.
 */
#include <Python.h>
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 6))
#define PD_X86 1
#define PD_AVX2 __attribute__((target("avx2,fma")))
/* AVX-512VL too: the float32 rows are 256-bit, and VL gives them 32 registers instead of 16. */
#define PD_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#endif

#define PD_AVX2_BIT 1
#define PD_AVX512_BIT 2

/* Bit PD_AVX2_BIT: the avx2 variant can run here; bit PD_AVX512_BIT: the avx512 variant. */
int pd_cpu_paths(void)
{
    int paths = 0;
#ifdef PD_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) paths |= PD_AVX2_BIT;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && (paths & PD_AVX2_BIT))
        paths |= PD_AVX512_BIT;
#endif
    return paths;
}

#ifdef PD_X86

/* ------------------------------------------------------------------ avx512: 8 lanes, one register
 * Block sizes measured at width 4096 on a Zen 5 core (L1 12-way). Columns of W are a multiple
 * of 4 KB apart when the width is a multiple of 512, so the lines that a block of columns
 * touches at one row all fall in one L1 set: blocks of 16 columns thrashed it. */
#define W512_ROWS 16 /* rows of Y held in registers while a block of columns of W streams by */
#define W512_COLS 8  /* columns of W streamed together */

#define DEFINE_AVX512(T, SUFFIX)                                                                     \
    typedef T pd_v8##SUFFIX __attribute__((vector_size(8 * sizeof(T)), aligned(sizeof(T))));         \
                                                                                                     \
    PD_AVX512 void pd_nn_##SUFFIX##_avx512(int m, int n, const T *W, ptrdiff_t ldw, const T *X, T *Y) \
    {                                                                                                \
        typedef pd_v8##SUFFIX V;                                                                     \
        memset(Y, 0, sizeof(T) * 8 * (size_t)m);                                                     \
        for (int j0 = 0; j0 < n; j0 += W512_COLS) {                                                  \
            const int j1 = j0 + W512_COLS < n ? j0 + W512_COLS : n;                                  \
            int i0 = 0;                                                                              \
            for (; i0 + W512_ROWS <= m; i0 += W512_ROWS) {                                           \
                V acc[W512_ROWS];                                                                    \
                for (int r = 0; r < W512_ROWS; r++) acc[r] = *(const V *)(Y + 8 * (ptrdiff_t)(i0 + r)); \
                for (int j = j0; j < j1; j++) {                                                      \
                    const V x = *(const V *)(X + 8 * (ptrdiff_t)j);                                  \
                    const T *w = W + (ptrdiff_t)j * ldw + i0;                                        \
                    for (int r = 0; r < W512_ROWS; r++) acc[r] += w[r] * x;                          \
                }                                                                                    \
                for (int r = 0; r < W512_ROWS; r++) *(V *)(Y + 8 * (ptrdiff_t)(i0 + r)) = acc[r];    \
            }                                                                                        \
            for (; i0 < m; i0++) {                                                                   \
                V acc = *(const V *)(Y + 8 * (ptrdiff_t)i0);                                         \
                for (int j = j0; j < j1; j++)                                                        \
                    acc += W[(ptrdiff_t)j * ldw + i0] * *(const V *)(X + 8 * (ptrdiff_t)j);          \
                *(V *)(Y + 8 * (ptrdiff_t)i0) = acc;                                                 \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
                                                                                                     \
    PD_AVX512 void pd_tn_##SUFFIX##_avx512(int m, int n, const T *W, ptrdiff_t ldw, const T *G, T *Z) \
    {                                                                                                \
        typedef pd_v8##SUFFIX V;                                                                     \
        int j0 = 0;                                                                                  \
        for (; j0 + W512_COLS <= n; j0 += W512_COLS) {                                               \
            V acc[W512_COLS];                                                                        \
            for (int c = 0; c < W512_COLS; c++) acc[c] = (V){0};                                     \
            const T *w = W + (ptrdiff_t)j0 * ldw;                                                    \
            for (int i = 0; i < m; i++) {                                                            \
                const V g = *(const V *)(G + 8 * (ptrdiff_t)i);                                      \
                for (int c = 0; c < W512_COLS; c++) acc[c] += w[i + c * ldw] * g;                    \
            }                                                                                        \
            for (int c = 0; c < W512_COLS; c++) *(V *)(Z + 8 * (ptrdiff_t)(j0 + c)) = acc[c];        \
        }                                                                                            \
        for (; j0 < n; j0++) {                                                                       \
            V acc = (V){0};                                                                          \
            const T *w = W + (ptrdiff_t)j0 * ldw;                                                    \
            for (int i = 0; i < m; i++) acc += w[i] * *(const V *)(G + 8 * (ptrdiff_t)i);            \
            *(V *)(Z + 8 * (ptrdiff_t)j0) = acc;                                                     \
        }                                                                                            \
    }

DEFINE_AVX512(double, d)
DEFINE_AVX512(float, s)

/* ------------------------------------------------------------------ avx2: 256-bit registers
 * Sixteen registers. float64: a row of 8 samples is two registers, so pd_nn keeps 6 rows
 * (12 accumulators) and pd_tn 6 columns; with the two halves of the thin row and the broadcast
 * weight entry that makes 15. float32: a row is one register; pd_nn keeps 12 rows, pd_tn 8
 * columns: 12 columns 4 KB apart (width 1024) overflow an 8-way L1 set and ran 2x slower.
 * Measured on a Zen 3 core (widths 768-4096, one thread): 0.4-0.6x BLAS's time in float64,
 * 0.25-0.45x in float32. */
#ifndef W256_ROWS_D
#define W256_ROWS_D 6
#endif
#ifndef W256_COLS_D
#define W256_COLS_D 6
#endif
#ifndef W256_ROWS_S
#define W256_ROWS_S 12
#endif
#ifndef W256_COLS_S
#define W256_COLS_S 8
#endif
#ifndef W256_NN_COLS
#define W256_NN_COLS 8 /* columns of W met per block of rows in pd_nn */
#endif

typedef double pd_v4d __attribute__((vector_size(32), aligned(8)));
typedef float pd_v8s __attribute__((vector_size(32), aligned(4)));

/* One row of 8 samples as H vectors of L lanes: (H, L) = (2, 4) for double, (1, 8) for float. */
#define DEFINE_AVX2(T, V, H, ROWS, COLS, SUFFIX)                                                     \
    PD_AVX2 void pd_nn_##SUFFIX##_avx2(int m, int n, const T *W, ptrdiff_t ldw, const T *X, T *Y)   \
    {                                                                                                \
        const int L = 8 / H;                                                                         \
        memset(Y, 0, sizeof(T) * 8 * (size_t)m);                                                     \
        for (int j0 = 0; j0 < n; j0 += W256_NN_COLS) {                                               \
            const int j1 = j0 + W256_NN_COLS < n ? j0 + W256_NN_COLS : n;                            \
            int i0 = 0;                                                                              \
            for (; i0 + ROWS <= m; i0 += ROWS) {                                                     \
                V acc[ROWS][H];                                                                      \
                for (int r = 0; r < ROWS; r++)                                                       \
                    for (int h = 0; h < H; h++) acc[r][h] = *(const V *)(Y + 8 * (ptrdiff_t)(i0 + r) + L * h); \
                for (int j = j0; j < j1; j++) {                                                      \
                    V x[H];                                                                          \
                    for (int h = 0; h < H; h++) x[h] = *(const V *)(X + 8 * (ptrdiff_t)j + L * h);   \
                    const T *w = W + (ptrdiff_t)j * ldw + i0;                                        \
                    for (int r = 0; r < ROWS; r++)                                                   \
                        for (int h = 0; h < H; h++) acc[r][h] += w[r] * x[h];                        \
                }                                                                                    \
                for (int r = 0; r < ROWS; r++)                                                       \
                    for (int h = 0; h < H; h++) *(V *)(Y + 8 * (ptrdiff_t)(i0 + r) + L * h) = acc[r][h]; \
            }                                                                                        \
            for (; i0 < m; i0++) {                                                                   \
                V acc[H];                                                                            \
                for (int h = 0; h < H; h++) acc[h] = *(const V *)(Y + 8 * (ptrdiff_t)i0 + L * h);    \
                for (int j = j0; j < j1; j++)                                                        \
                    for (int h = 0; h < H; h++)                                                      \
                        acc[h] += W[(ptrdiff_t)j * ldw + i0] * *(const V *)(X + 8 * (ptrdiff_t)j + L * h); \
                for (int h = 0; h < H; h++) *(V *)(Y + 8 * (ptrdiff_t)i0 + L * h) = acc[h];          \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
                                                                                                     \
    PD_AVX2 void pd_tn_##SUFFIX##_avx2(int m, int n, const T *W, ptrdiff_t ldw, const T *G, T *Z)   \
    {                                                                                                \
        const int L = 8 / H;                                                                         \
        int j0 = 0;                                                                                  \
        for (; j0 + COLS <= n; j0 += COLS) {                                                         \
            V acc[COLS][H];                                                                          \
            for (int c = 0; c < COLS; c++)                                                           \
                for (int h = 0; h < H; h++) acc[c][h] = (V){0};                                      \
            const T *w = W + (ptrdiff_t)j0 * ldw;                                                    \
            for (int i = 0; i < m; i++) {                                                            \
                V g[H];                                                                              \
                for (int h = 0; h < H; h++) g[h] = *(const V *)(G + 8 * (ptrdiff_t)i + L * h);       \
                for (int c = 0; c < COLS; c++)                                                       \
                    for (int h = 0; h < H; h++) acc[c][h] += w[i + c * ldw] * g[h];                  \
            }                                                                                        \
            for (int c = 0; c < COLS; c++)                                                           \
                for (int h = 0; h < H; h++) *(V *)(Z + 8 * (ptrdiff_t)(j0 + c) + L * h) = acc[c][h]; \
        }                                                                                            \
        for (; j0 < n; j0++) {                                                                       \
            V acc[H];                                                                                \
            for (int h = 0; h < H; h++) acc[h] = (V){0};                                             \
            const T *w = W + (ptrdiff_t)j0 * ldw;                                                    \
            for (int i = 0; i < m; i++)                                                              \
                for (int h = 0; h < H; h++) acc[h] += w[i] * *(const V *)(G + 8 * (ptrdiff_t)i + L * h); \
            for (int h = 0; h < H; h++) *(V *)(Z + 8 * (ptrdiff_t)j0 + L * h) = acc[h];              \
        }                                                                                            \
    }

DEFINE_AVX2(double, pd_v4d, 2, W256_ROWS_D, W256_COLS_D, d)
DEFINE_AVX2(float, pd_v8s, 1, W256_ROWS_S, W256_COLS_S, s)

#endif /* PD_X86 */

static struct PyModuleDef pd_module = {PyModuleDef_HEAD_INIT, "_kernels",
                                       "Thin-product kernels, called through ctypes.", -1, NULL};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&pd_module); }
