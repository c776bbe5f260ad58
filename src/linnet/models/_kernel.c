/* Fused softmax-regression SGD on uint8 images: the inner loop of linnet.models.fast, compiled.

Loaded with ctypes by linnet/models/kernel.py, which falls back to the torch path when this file
was not built. The math is the one of fast.py, per minibatch of B rows x_i (d uint8 pixels, scale 1/255):
    o_i = scale * W^T x_i + b                    logits, k per row            (forward, rows split
    g_i = softmax(o_i) - onehot(y_i)             the cross-entropy gradient    over the threads)
    W^T <- (1 - lr wd) W^T - lr scale / B  sum_i g_i x_i^T                    (columns split)
    b   <- b - lr / B  sum_i g_i
Why it is faster than the torch path: one pass reads each row straight from the resident uint8 set
(no float copy), the weights stay in registers/L1 in 5-class tiles, the softmax is vectorized, and
the two cores share a step without any reduction between them: every output (a logit, a column of
W) is computed by one thread in a fixed order, so the result does not depend on the thread count.
Measured one thread at a time (CPU seconds an epoch, 60k shuffled rows): fetching the next step's
labels with its rows, one load of W for two rows, the batch copied contiguous for the backward pass
and the vectorized exp took 12% off the epoch together.

Built by setup.py as the optional extension linnet.models._kernel with -mavx2 -mfma (x86-64 CPUs
since 2013); kernel.py loads it with ctypes when torch reports an AVX2 CPU, and otherwise (or when
the build failed: no compiler, another CPU family) linnet.models.fast runs its torch code instead.
Plain C with GCC/Clang vector extensions (8 floats): no Python headers, no argument parsing.
*/
#if !defined(__AVX2__) || !defined(__FMA__)
#error "build with -mavx2 -mfma (setup.py does); without AVX2 linnet runs its torch path"
#endif
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <string.h>

#define KERNEL __attribute__((visibility("default")))
#define INLINE static inline __attribute__((always_inline))

typedef float v8f __attribute__((vector_size(32)));

enum { KB = 5 };  /* classes per register tile: 5 classes x 2 rows (or 16 columns) = 10 accumulators */

/* 8 pixels -> 8 floats (vpmovzxbd + vcvtdq2ps; GCC 12 makes __builtin_convertvector from u8 scalar). */
INLINE v8f load_u8(const uint8_t *p)
{
    return (v8f)_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
INLINE v8f load_f(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
INLINE void store_f(float *p, v8f v) { memcpy(p, &v, sizeof v); }
INLINE float hsum(v8f v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }

/* out[r * ldo + c] = sum_j x[r][j] w[c * d + j] for NR rows and NK classes (compile-time constants). */
INLINE void dots(const int NR, const int NK, const uint8_t *const *x, const float *w, int64_t d,
                 float *out, int64_t ldo)
{
    v8f acc[2][KB];
    memset(acc, 0, sizeof acc);
    int64_t j = 0;
    for (; j + 8 <= d; j += 8) {
        v8f xv[2];
        for (int r = 0; r < NR; r++) xv[r] = load_u8(x[r] + j);
        for (int c = 0; c < NK; c++) {
            v8f wv = load_f(w + c * d + j);
            __asm__("" : "+x"(wv));  /* in a register: one load for both rows, not one folded into each FMA */
            for (int r = 0; r < NR; r++) acc[r][c] += xv[r] * wv;
        }
    }
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NK; c++) {
            float s = hsum(acc[r][c]);
            for (int64_t jj = j; jj < d; jj++) s += (float)x[r][jj] * w[c * d + jj];
            out[r * ldo + c] = s;
        }
}

/* Logits of NR rows: out (NR, k) = scale * x W^T + b, all k classes in tiles of KB. */
INLINE void logits_rows(const int NR, const uint8_t *const *x, const float *W, const float *b,
                        int64_t d, int64_t k, float scale, float *out)
{
    int64_t c0 = 0;
    for (; c0 + KB <= k; c0 += KB) dots(NR, KB, x, W + c0 * d, d, out + c0, k);
    switch (k - c0) {
    case 4: dots(NR, 4, x, W + c0 * d, d, out + c0, k); break;
    case 3: dots(NR, 3, x, W + c0 * d, d, out + c0, k); break;
    case 2: dots(NR, 2, x, W + c0 * d, d, out + c0, k); break;
    case 1: dots(NR, 1, x, W + c0 * d, d, out + c0, k); break;
    default: break;
    }
    for (int r = 0; r < NR; r++)
        for (int64_t c = 0; c < k; c++) out[r * k + c] = scale * out[r * k + c] + b[c];
}

/* exp of 8 floats (Cephes' expf: 2^n times a degree-6 polynomial on [-ln2/2, ln2/2]; within 1 ulp
   of exp on [-87, 0], measured). Inputs below -87.3 give exp(-87.3) ~ 1e-38 instead of less: nothing
   next to the softmax's largest term exp(0) = 1. NaN stays NaN (the max/min keep it), so a diverged
   step still shows a non-finite loss. */
INLINE v8f exp8(v8f x)
{
    x = (v8f)_mm256_min_ps(_mm256_set1_ps(88.3762626f), _mm256_max_ps(_mm256_set1_ps(-87.3365447f), (__m256)x));
    v8f n = (v8f)_mm256_round_ps((__m256)(x * 1.44269504088896341f), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = x - n * 0.693359375f - n * -2.12194440e-4f;          /* x - n ln2, ln2 in two parts */
    v8f p = 1.9875691500e-4f * x + 1.3981999507e-3f;
    p = p * x + 8.3334519073e-3f;
    p = p * x + 4.1665795894e-2f;
    p = p * x + 1.6666665459e-1f;
    p = p * x + 5.0000001201e-1f;
    p = p * (x * x) + x + 1.0f;
    __m256i two_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32((__m256)n), _mm256_set1_epi32(127)), 23);
    return p * (v8f)_mm256_castsi256_ps(two_n);
}

/* In place: logits o (k) -> g = softmax(o) - onehot(y). Returns the loss log sum exp(o) - o_y
   (LogSumExp with the max taken out: cannot overflow); *hit = (first argmax == y). */
INLINE float softmax_grad(float *o, int64_t k, int64_t y, int *hit)
{
    int64_t arg = 0;
    float m = o[0];
    for (int64_t c = 1; c < k; c++)
        if (o[c] > m) { m = o[c]; arg = c; }
    float o_y = o[y];
    v8f sum = {0};
    for (int64_t c0 = 0; c0 < k; c0 += 8) {                   /* exp(o - m), 8 classes at a time */
        int left = k - c0 < 8 ? (int)(k - c0) : 8;
        __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        v8f e = exp8((v8f)_mm256_maskload_ps(o + c0, lanes) - m);
        e = (v8f)_mm256_and_ps((__m256)e, _mm256_castsi256_ps(lanes));
        _mm256_maskstore_ps(o + c0, lanes, (__m256)e);
        sum += e;
    }
    float s = hsum(sum), inv = 1.0f / s;
    for (int64_t c = 0; c < k; c++) o[c] *= inv;
    o[y] -= 1.0f;
    *hit = arg == y;
    return m + logf(s) - o_y;
}

/* acc (NK classes x 16 columns) = sum_i G[i][c0 + c] x_i[j .. j + 16); then the SGD update of
   those W^T entries: W = beta W - alpha acc. */
INLINE void grad_tile(const int NK, const uint8_t *const *rows, int64_t B, const float *G, int64_t k,
                      int64_t c0, int64_t j, float *W, int64_t d, float alpha, float beta)
{
    v8f acc[KB][2];
    memset(acc, 0, sizeof acc);
    for (int64_t i = 0; i < B; i++) {
        v8f x0 = load_u8(rows[i] + j), x1 = load_u8(rows[i] + j + 8);
        const float *g = G + i * k + c0;
        for (int c = 0; c < NK; c++) { acc[c][0] += g[c] * x0; acc[c][1] += g[c] * x1; }
    }
    for (int c = 0; c < NK; c++)
        for (int h = 0; h < 2; h++) {
            float *w = W + (c0 + c) * d + j + 8 * h;
            store_f(w, beta * load_f(w) - alpha * acc[c][h]);
        }
}

/* The columns [j0, d) left over by the 16-wide tiles, one at a time, all classes. */
static void grad_tail(const uint8_t *const *rows, int64_t B, const float *G, int64_t k, int64_t j0,
                      float *W, int64_t d, float alpha, float beta)
{
    for (int64_t c = 0; c < k; c++)
        for (int64_t j = j0; j < d; j++) {
            float s = 0.0f;
            for (int64_t i = 0; i < B; i++) s += G[i * k + c] * (float)rows[i][j];
            W[c * d + j] = beta * W[c * d + j] - alpha * s;
        }
}

/* Ask for rows [from, to) of the next step (their indices in next_idx, or rows next_first + i) and
   their labels to be brought towards L2, 64 bytes at a time. The backward pass works on rows already in cache, so the
   memory system is idle then: fetching the next shuffled rows meanwhile hides their latency from
   the next forward pass (which otherwise waits on memory: a gathered row is a cache miss). */
INLINE void prefetch_rows(const uint8_t *images, const int64_t *labels, const int64_t *next_idx,
                          int64_t next_first, int64_t from, int64_t to, int64_t d)
{
    for (int64_t i = from; i < to; i++) {
        const uint8_t *row = images + (next_idx ? next_idx[i] : next_first + i) * d;
        for (int64_t j = 0; j < d; j += 64) __builtin_prefetch(row + j, 0, 2);
        __builtin_prefetch(row + d - 1, 0, 2);
        if (next_idx) __builtin_prefetch(labels + next_idx[i], 0, 2);  /* a shuffled label: a miss too */
    }
}

INLINE void grad_task(int64_t t, int64_t nkb, const uint8_t *const *rows, int64_t B, const float *G,
                      int64_t k, float *W, int64_t d, float alpha, float beta)
{
    int64_t j = (t / nkb) * 16, c0 = (t % nkb) * KB;
    switch (k - c0 < KB ? k - c0 : KB) {
    case 5: grad_tile(5, rows, B, G, k, c0, j, W, d, alpha, beta); break;
    case 4: grad_tile(4, rows, B, G, k, c0, j, W, d, alpha, beta); break;
    case 3: grad_tile(3, rows, B, G, k, c0, j, W, d, alpha, beta); break;
    case 2: grad_tile(2, rows, B, G, k, c0, j, W, d, alpha, beta); break;
    default: grad_tile(1, rows, B, G, k, c0, j, W, d, alpha, beta); break;
    }
}

/* Logits (n, k) of the rows 0..n-1 of images: evaluation and prediction. */
KERNEL void linnet_logits(const uint8_t *images, int64_t n, int64_t d, int64_t k, const float *W,
                          const float *b, float scale, float *out, int threads)
{
    int64_t pairs = (n + 1) / 2;
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t p = 0; p < pairs; p++) {
        int64_t i = 2 * p;
        const uint8_t *x[2] = {images + i * d, i + 1 < n ? images + (i + 1) * d : NULL};
        if (i + 1 < n) logits_rows(2, x, W, b, d, k, scale, out + i * k);
        else logits_rows(1, x, W, b, d, k, scale, out + i * k);
    }
}

/* Test loss and accuracy of the rows 0..n-1 of images, without keeping their logits: per block b of
   EVAL_BLOCK rows, block_loss[b] (summed cross-entropy, the LogSumExp of training) and block_hits[b].
   Blocks, not threads, cut the sums, so the result does not depend on the thread count; the caller
   adds the blocks up in order. Workspace: scratch (threads * 2 * k floats). Returns 0, or -1 - i
   when label y_i is outside [0, k). */
enum { EVAL_BLOCK = 256 };
KERNEL int64_t linnet_evaluate(const uint8_t *images, const int64_t *labels, int64_t n, int64_t d, int64_t k,
                               const float *W, const float *b, float scale, double *block_loss,
                               int64_t *block_hits, float *scratch, int threads)
{
    int64_t blocks = (n + EVAL_BLOCK - 1) / EVAL_BLOCK, bad = -1;
    #pragma omp parallel num_threads(threads)
    {
        float *o = scratch + omp_get_thread_num() * 2 * k;      /* two rows' logits */
        #pragma omp for schedule(static)
        for (int64_t q = 0; q < blocks; q++) {
            int64_t end = (q + 1) * EVAL_BLOCK < n ? (q + 1) * EVAL_BLOCK : n, hits = 0;
            double loss = 0.0;
            for (int64_t i = q * EVAL_BLOCK; i < end; i += 2) {
                int64_t nr = i + 1 < end ? 2 : 1;
                const uint8_t *x[2] = {images + i * d, nr == 2 ? images + (i + 1) * d : NULL};
                if (nr == 2) logits_rows(2, x, W, b, d, k, scale, o);
                else logits_rows(1, x, W, b, d, k, scale, o);
                for (int64_t r = 0; r < nr; r++) {
                    int64_t y = labels[i + r];
                    int hit;
                    if (y < 0 || y >= k) {
                        #pragma omp critical
                        if (bad < 0 || i + r < bad) bad = i + r;
                        continue;
                    }
                    loss += softmax_grad(o + r * k, k, y, &hit);
                    hits += hit;
                }
            }
            block_loss[q] = loss;
            block_hits[q] = hits;
        }
    }
    return bad >= 0 ? -1 - bad : 0;
}

/* SGD steps over the rows images[index[0..n)] (index NULL: rows 0..n-1, labels alike) in
   minibatches of `batch` (the last may be short).
   Per step s: loss_sum[s] (summed cross-entropy) and correct[s], both before the update.
   Workspace: rows (batch pointers), batch_rows (batch * d bytes, or NULL: the step's rows copied
   contiguous, which the backward pass reads 16 columns at a time: measured faster than from the
   scattered originals), G (batch * k floats), row_loss (batch floats), row_hit (batch ints).
   Returns the number of steps done: it stops after a step whose loss is not finite, and returns
   -1 - i when label y_i is outside [0, k) (nothing of that step is applied). prefetch = 0 turns the
   next step's prefetching off (LINNET_PREFETCH=0: for the benchmark's before/after row). */
KERNEL int64_t linnet_sgd_steps(const uint8_t *images, const int64_t *labels, const int64_t *index,
                                int64_t n, int64_t batch, int64_t d, int64_t k, float *W, float *b,
                                float lr, float weight_decay, float scale,
                                const uint8_t **rows, uint8_t *batch_rows, float *G, float *row_loss, int *row_hit,
                                double *loss_sum, int64_t *correct, int threads, int prefetch)
{
    int64_t steps = (n + batch - 1) / batch, done = 0, bad = -1;
    int64_t nkb = (k + KB - 1) / KB, d16 = d - d % 16, tasks = (d16 / 16) * nkb;
    int stop = 0;
    #pragma omp parallel num_threads(threads)
    for (int64_t s = 0; s < steps && !stop; s++) {
        int64_t first = s * batch, B = n - first < batch ? n - first : batch;
        const int64_t *idx = index ? index + first : NULL;
        /* forward + softmax: rows split over the threads */
        #pragma omp for schedule(static)
        for (int64_t p = 0; p < (B + 1) / 2; p++) {
            int64_t i = 2 * p, nr = i + 1 < B ? 2 : 1;
            for (int64_t r = 0; r < nr; r++) rows[i + r] = images + (idx ? idx[i + r] : first + i + r) * d;
            if (nr == 2) logits_rows(2, rows + i, W, b, d, k, scale, G + i * k);
            else logits_rows(1, rows + i, W, b, d, k, scale, G + i * k);
            for (int64_t r = i; r < i + nr && batch_rows; r++) {     /* the backward pass reads the copy */
                memcpy(batch_rows + r * d, rows[r], d);
                rows[r] = batch_rows + r * d;
            }
            for (int64_t r = i; r < i + nr; r++) {
                int64_t y = labels[idx ? idx[r] : first + r];
                if (y < 0 || y >= k) {
                    #pragma omp critical
                    if (bad < 0 || first + r < bad) bad = first + r;
                    row_loss[r] = 0.0f; row_hit[r] = 0;
                    continue;
                }
                row_loss[r] = softmax_grad(G + r * k, k, y, &row_hit[r]);
            }
        }
        if (bad >= 0) break;  /* every thread sees it after the barrier above */
        float alpha = lr * scale / (float)B, beta = 1.0f - lr * weight_decay;
        /* the next step's rows, spread over the backward tasks: with the static schedules, the thread
           that runs task t prefetches about the rows it will read in the next forward pass */
        int64_t next_first = first + B, nB = prefetch && s + 1 < steps ? (n - next_first < batch ? n - next_first : batch) : 0;
        const int64_t *next_idx = index && nB ? index + next_first : NULL;
        /* backward + update of W^T: columns split over the threads */
        #pragma omp for schedule(static) nowait
        for (int64_t t = 0; t < tasks; t++) {
            prefetch_rows(images, labels, next_idx, next_first, t * nB / tasks, (t + 1) * nB / tasks, d);
            grad_task(t, nkb, rows, B, G, k, W, d, alpha, beta);
        }
        #pragma omp single
        {
            if (d16 < d) grad_tail(rows, B, G, k, d16, W, d, alpha, beta);
            double sum = 0.0;
            int64_t hits = 0;
            for (int64_t i = 0; i < B; i++) { sum += row_loss[i]; hits += row_hit[i]; }
            for (int64_t c = 0; c < k; c++) {
                float gs = 0.0f;
                for (int64_t i = 0; i < B; i++) gs += G[i * k + c];
                b[c] -= lr / (float)B * gs;
            }
            loss_sum[s] = sum;
            correct[s] = hits;
            done = s + 1;
            stop = !isfinite(sum);
        } /* implicit barrier: W, b and stop are settled before the next step */
    }
    return bad >= 0 ? -1 - bad : done;
}
