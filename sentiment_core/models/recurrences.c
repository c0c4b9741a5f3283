/* The recurrences of the tanh RNN, the LSTM and the GRU, forward and backward, in C.
 *
 * In Python each time step costs a dozen small tensor operations (slices, the matrix product,
 * the activations, the cell update; in backward the derivative of each gate), each with its
 * dispatch and its own pass over memory. Here the loop over time runs in C, the elementwise
 * work of a step is one pass, and the matrix products go to OpenBLAS through its documented CBLAS
 * interface (the PyPI package scipy-openblas32, whose symbols carry the prefix scipy_).
 *
 * Layout (torch's nn.LSTM): a row of `z` holds 4H pre-activations in the order input, forget,
 * cell, output. All arrays are row-major and contiguous; `b` rows are the sentences still
 * running at this step (the batch is sorted by falling length).
 *
 * The exponential is written out (a polynomial, as vector math libraries do it) so that the
 * compiler can vectorise every loop without -ffast-math (-fno-trapping-math suffices). NaN
 * passes through unchanged, so a diverging run still ends with a NaN loss and is stopped.
 *
 * These functions trust their arguments: sentiment_core/models/native.py checks every shape,
 * dtype, device and contiguity before it calls them. No buffer is sized by a setting on the C
 * stack: the one row of zeros the first step reads (h_{-1} = c_{-1} = 0) is passed in.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>  /* scipy_openblas32.get_include_dir() */

typedef union { float f; int32_t i; } bits32;

static inline float exp_approx(float x) {
    float low = x < -87.0f ? -87.0f : x;
    float clamped = low > 88.0f ? 88.0f : low;
    /* exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln(2) / 2; adding and subtracting
     * 1.5 * 2^23 rounds to the nearest integer without a branch. */
    float nf = (clamped * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = clamped - nf * 0.693359375f + nf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    bits32 scale;
    scale.i = ((int32_t)nf + 127) << 23;
    float result = p * scale.f;
    return x != x ? x : result;  /* NaN in, NaN out */
}

static inline float sigmoid_approx(float x) {
    return 1.0f / (1.0f + exp_approx(-x));
}

static inline float tanh_approx(float x) {
    float result = 1.0f - 2.0f / (1.0f + exp_approx(2.0f * x));
    return x != x ? x : result;
}

/* Threads for one matrix product (set_threads); OpenBLAS itself runs single-threaded. */
static int gemm_threads = 1;
/* Below this many multiply-adds a product is not split: waking a second thread costs more. */
#define SPLIT_WORK 200000
/* Below this many elements a step's activations are not split across threads either. */
#define SPLIT_ROWS 4096

void set_threads(int threads) { gemm_threads = threads < 1 ? 1 : (threads > 8 ? 8 : threads); }

/* One row of the forward step; c_prev NULL means c_{t-1} = 0 (the first step). */
static inline void forward_row(int64_t H, float *restrict zi, float *restrict zf, float *restrict zg,
                               float *restrict zo, const float *restrict c_prev, float *restrict c,
                               float *restrict tanh_c, float *restrict h, float keep) {
    for (int64_t j = 0; j < H; ++j) {
        float i = sigmoid_approx(zi[j]), f = sigmoid_approx(zf[j]);
        float g = tanh_approx(zg[j]), o = sigmoid_approx(zo[j]);
        float cell = i * g + keep * f * c_prev[j];
        float tc = tanh_approx(cell);
        zi[j] = i; zf[j] = f; zg[j] = g; zo[j] = o;
        c[j] = cell; tanh_c[j] = tc; h[j] = o * tc;
    }
}

/* Forward: z (b, 4H) pre-activations -> activated gates in place; c_t, tanh(c_t), h_t (b, H).
 * c_prev (b, H) is NULL at the first step (c_{-1} = 0). */
static void lstm_forward_step(int64_t b, int64_t H, float *z, const float *c_prev, const float *zeros,
                              float *c, float *tanh_c, float *h) {
    #pragma omp parallel for num_threads(gemm_threads) if (gemm_threads > 1 && b * H >= SPLIT_ROWS) schedule(static)
    for (int64_t row = 0; row < b; ++row) {
        float *zi = z + row * 4 * H;
        forward_row(H, zi, zi + H, zi + 2 * H, zi + 3 * H, c_prev ? c_prev + row * H : zeros, c + row * H,
                    tanh_c + row * H, h + row * H, c_prev ? 1.0f : 0.0f);
    }
}

/* One row of the backward step. carry holds dLoss/dc_t from step t+1 and becomes dLoss/dc_t * f_t
 * (read before it is written, element by element). Writes dz's four gate blocks. */
static inline void backward_row(int64_t H, const float *restrict dh, float *restrict carry,
                                const float *restrict gi, const float *restrict gf,
                                const float *restrict gg, const float *restrict go,
                                const float *restrict c_prev, const float *restrict tanh_c,
                                float *restrict di, float *restrict df, float *restrict dg,
                                float *restrict d_o) {
    for (int64_t j = 0; j < H; ++j) {
        float i = gi[j], f = gf[j], g = gg[j], o = go[j], tc = tanh_c[j], d = dh[j];
        float dc = d * o * (1.0f - tc * tc) + carry[j];
        di[j] = dc * g * i * (1.0f - i);
        df[j] = dc * c_prev[j] * f * (1.0f - f);
        dg[j] = dc * i * (1.0f - g * g);
        d_o[j] = d * tc * o * (1.0f - o);
        carry[j] = dc * f;
    }
}

/* Backward of one step. In: dh (b, H) dLoss/dh_t (everything but the cell path); carry (b, H)
 * dLoss/dc_t arriving from step t+1 in its first `carried` rows (the others have no step t+1);
 * gates (b, 4H) activated; c_prev (b, H) or NULL at t = 0; tanh_c (b, H).
 * Out: dz (b, 4H) dLoss/d(pre-activations); carry becomes dLoss/dc_{t-1} = dc_t * f_t. */
static void lstm_backward_step(int64_t b, int64_t carried, int64_t H, const float *dh, float *carry,
                               const float *gates, const float *c_prev, const float *zeros, const float *tanh_c,
                               float *dz) {
    if (carried < b)  /* rows without a step t+1 receive no carry */
        memset(carry + carried * H, 0, (size_t)((b - carried) * H) * sizeof(float));
    #pragma omp parallel for num_threads(gemm_threads) if (gemm_threads > 1 && b * H >= SPLIT_ROWS) schedule(static)
    for (int64_t row = 0; row < b; ++row) {
        const float *g = gates + row * 4 * H;
        float *d = dz + row * 4 * H;
        backward_row(H, dh + row * H, carry + row * H, g, g + H, g + 2 * H, g + 3 * H,
                     c_prev ? c_prev + row * H : zeros, tanh_c + row * H, d, d + H, d + 2 * H, d + 3 * H);
    }
}

/* ------------------------------------------------------------------------------------------
 * Whole recurrences in C: the loop over time steps with no Python in between.
 *
 * The matrix products go to OpenBLAS's CBLAS sgemm (32-bit integers: native.py refuses sizes
 * that do not fit). Packed layout as in models/packing.py: step t's rows start at sum(sizes[:t]); the batch
 * is sorted by falling length, so the sentences running at step t are the first sizes[t]
 * rows of step t-1. `cut` > 0 stops the gradient between steps t-1 and t when t % cut == 0.
 * ------------------------------------------------------------------------------------------ */


static void sgemm(char trans_a, char trans_b, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                  const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    scipy_cblas_sgemm(CblasRowMajor, trans_a == 'T' ? CblasTrans : CblasNoTrans,
                      trans_b == 'T' ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, 1.0f,
                      a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

/* Row-major C (m x n) = A (m x k, or its transpose) . B (k x n, or its transpose) + beta C.
 * A large product is split by columns of C across gemm_threads threads, each a single-threaded
 * sgemm on its own block of columns (OpenBLAS's own threading is slow at these small sizes). */
static void gemm(char trans_a, char trans_b, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                 const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    int parts = (gemm_threads > 1 && m * n * k >= SPLIT_WORK && n >= 64) ? gemm_threads : 1;
    if (parts == 1) {
        sgemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    #pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; ++p) {
        int64_t j0 = (n * p / parts) & ~(int64_t)15, j1 = p + 1 == parts ? n : (n * (p + 1) / parts) & ~(int64_t)15;
        const float *block = trans_b == 'T' ? b + j0 * ldb : b + j0;  /* columns j0..j1 of op(B) */
        sgemm(trans_a, trans_b, m, j1 - j0, k, a, lda, block, ldb, beta, c + j0, ldc);
    }
}

static void gemm_add(char trans_a, char trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                     int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc) {
    gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, 1.0f, c, ldc);
}

static int carries(int64_t t, int64_t cut) {
    return t > 0 && !(cut > 0 && t % cut == 0);
}

/* tanh RNN. In: out (N, H) holds W_xh x_t + biases; w_hh (H, H). Out: out holds h_t. */
void rnn_forward(int64_t steps, const int64_t *sizes, int64_t H, float *out, const float *w_hh) {
    int64_t start = 0, prev = 0;
    for (int64_t t = 0; t < steps; ++t) {
        int64_t b = sizes[t];
        float *h = out + start * H;
        if (t > 0) gemm_add('N', 'T', b, H, H, out + prev * H, H, w_hh, H, h, H);
        for (int64_t j = 0; j < b * H; ++j) h[j] = tanh_approx(h[j]);
        prev = start;
        start += b;
    }
}

/* In: dz (N, H) holds dLoss/dh_t from above; out (N, H) h_t. Out: dz = dLoss/d(pre-activation). */
void rnn_backward(int64_t steps, const int64_t *sizes, int64_t H, int64_t cut, float *dz,
                  const float *out, const float *w_hh) {
    int64_t start = 0;  /* one past the last packed row; walks back step by step */
    for (int64_t t = 0; t < steps; ++t) start += sizes[t];
    for (int64_t t = steps - 1; t >= 0; --t) {
        int64_t b = sizes[t];
        start -= b;
        float *d = dz + start * H;
        const float *h = out + start * H;
        for (int64_t j = 0; j < b * H; ++j) d[j] *= 1.0f - h[j] * h[j];
        if (carries(t, cut)) gemm_add('N', 'N', b, H, H, d, H, w_hh, H, dz + (start - sizes[t - 1]) * H, H);
    }
}

/* LSTM. In: gates (N, 4H) holds W_ih x_t + biases; w_hh (4H, H). Out: gates activated, cells,
 * tanh_cells and out (N, H). */
void lstm_forward(int64_t steps, const int64_t *sizes, int64_t H, float *gates, float *cells,
                  float *tanh_cells, float *out, const float *w_hh, const float *zeros) {
    int64_t start = 0, prev = 0;
    for (int64_t t = 0; t < steps; ++t) {
        int64_t b = sizes[t];
        float *z = gates + start * 4 * H;
        if (t > 0) gemm_add('N', 'T', b, 4 * H, H, out + prev * H, H, w_hh, H, z, 4 * H);
        lstm_forward_step(b, H, z, t > 0 ? cells + prev * H : 0, zeros, cells + start * H,
                          tanh_cells + start * H, out + start * H);
        prev = start;
        start += b;
    }
}

/* In: dh (N, H) dLoss/dh_t from above (overwritten); carry: scratch space of sizes[0] x H;
 * zeros: H zeros. Out: dz (N, 4H) dLoss/d(pre-activations). */
void lstm_backward(int64_t steps, const int64_t *sizes, int64_t H, int64_t cut, float *dh,
                   const float *gates, const float *cells, const float *tanh_cells, float *dz,
                   float *carry, const float *w_hh, const float *zeros) {
    int64_t start = 0, carried = 0;  /* start: one past the last packed row */
    for (int64_t t = 0; t < steps; ++t) start += sizes[t];
    for (int64_t t = steps - 1; t >= 0; --t) {
        int64_t b = sizes[t];
        start -= b;
        int64_t prev = t > 0 ? start - sizes[t - 1] : 0;
        lstm_backward_step(b, carried, H, dh + start * H, carry, gates + start * 4 * H,
                           t > 0 ? cells + prev * H : 0, zeros, tanh_cells + start * H, dz + start * 4 * H);
        if (carries(t, cut)) {
            gemm_add('N', 'N', b, H, 4 * H, dz + start * 4 * H, 4 * H, w_hh, H, dh + prev * H, H);
            carried = b;
        } else {
            carried = 0;
        }
    }
}

/* GRU (torch's): r, z = sigmoid(x_rz + W_h{r,z} h), n = tanh(x_n + r * (W_hn h + b_hn)),
 * h_t = n + z * (h_{t-1} - n). In: xp (N, 3H) holds W_ih x_t + b_ih + (b_hr, b_hz, 0); w_hh (3H, H);
 * b_hn (H). Out: rz (N, 2H), hn (N, H) = W_hn h_{t-1} + b_hn, n (N, H), out (N, H) h_t.
 * hp: scratch space of sizes[0] x 3H; zeros: H zeros (h_{-1}). */
void gru_forward(int64_t steps, const int64_t *sizes, int64_t H, const float *xp, const float *w_hh,
                 const float *b_hn, float *rz, float *hn, float *n, float *out, float *hp, const float *zeros) {
    int64_t start = 0, prev = 0;
    for (int64_t t = 0; t < steps; ++t) {
        int64_t b = sizes[t];
        if (t > 0) {
            gemm('N', 'T', b, 3 * H, H, out + prev * H, H, w_hh, H, 0.0f, hp, 3 * H);
        } else {
            memset(hp, 0, (size_t)(b * 3 * H) * sizeof(float));  /* W_hh h_{-1} = 0 */
        }
        #pragma omp parallel for num_threads(gemm_threads) if (gemm_threads > 1 && b * H >= SPLIT_ROWS) schedule(static)
        for (int64_t row = 0; row < b; ++row) {
            const float *x = xp + (start + row) * 3 * H, *p = hp + row * 3 * H;
            const float *h_prev = t > 0 ? out + (prev + row) * H : zeros;
            float *rz_row = rz + (start + row) * 2 * H, *hn_row = hn + (start + row) * H;
            float *n_row = n + (start + row) * H, *h = out + (start + row) * H;
            for (int64_t j = 0; j < 2 * H; ++j) rz_row[j] = sigmoid_approx(x[j] + p[j]);
            for (int64_t j = 0; j < H; ++j) {
                float r = rz_row[j], z = rz_row[H + j];
                float hidden = p[2 * H + j] + b_hn[j];
                float new_state = tanh_approx(x[2 * H + j] + r * hidden);
                float previous = h_prev[j];
                hn_row[j] = hidden;
                n_row[j] = new_state;
                h[j] = new_state + z * (previous - new_state);
            }
        }
        prev = start;
        start += b;
    }
}

/* In: dh (N, H) dLoss/dh_t from above (overwritten: it gathers the carry); h_prev (N, H) packed
 * h_{t-1} (zeros at t = 0). Out: dx (N, 3H) dLoss/d(xp), dhp (N, 3H) dLoss/d(W_hh h_{t-1} + (0, 0, b_hn)). */
void gru_backward(int64_t steps, const int64_t *sizes, int64_t H, int64_t cut, float *dh, const float *rz,
                  const float *hn, const float *n, const float *h_prev, float *dx, float *dhp,
                  const float *w_hh) {
    int64_t start = 0;
    for (int64_t t = 0; t < steps; ++t) start += sizes[t];
    for (int64_t t = steps - 1; t >= 0; --t) {
        int64_t b = sizes[t];
        start -= b;
        int64_t prev = t > 0 ? start - sizes[t - 1] : 0;
        int carry = carries(t, cut);
        #pragma omp parallel for num_threads(gemm_threads) if (gemm_threads > 1 && b * H >= SPLIT_ROWS) schedule(static)
        for (int64_t row = 0; row < b; ++row) {
            int64_t at = start + row;
            const float *rz_row = rz + at * 2 * H, *hn_row = hn + at * H, *n_row = n + at * H;
            const float *h_row = h_prev + at * H, *d = dh + at * H;
            float *dx_row = dx + at * 3 * H, *dhp_row = dhp + at * 3 * H, *d_prev = dh + (prev + row) * H;
            for (int64_t j = 0; j < H; ++j) {
                float r = rz_row[j], z = rz_row[H + j], nn = n_row[j], previous = h_row[j];
                float dz = d[j] * (previous - nn) * z * (1.0f - z);
                float dn = d[j] * (1.0f - z) * (1.0f - nn * nn);
                float dr = dn * hn_row[j] * r * (1.0f - r);
                dx_row[j] = dr; dx_row[H + j] = dz; dx_row[2 * H + j] = dn;
                dhp_row[j] = dr; dhp_row[H + j] = dz; dhp_row[2 * H + j] = dn * r;
            }
            if (carry) {
                for (int64_t j = 0; j < H; ++j) d_prev[j] += d[j] * rz_row[H + j];
            }
        }
        if (carry) gemm_add('N', 'N', b, H, 3 * H, dhp + start * 3 * H, 3 * H, w_hh, H, dh + prev * H, H);
    }
}
