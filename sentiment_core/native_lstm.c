/* The elementwise half of one LSTM time step, forward and backward, in one pass each.
 *
 * The recurrent matrix product of each step stays in torch (its BLAS is faster than anything
 * written here); what this file replaces is the dozen small tensor operations around it
 * (three activations, the cell update, and in backward the derivative of each gate), which
 * in Python cost a dispatch and a full pass over memory each.
 *
 * Layout (torch's nn.LSTM): a row of `z` holds 4H pre-activations in the order input, forget,
 * cell, output. All arrays are row-major and contiguous; `b` rows are the sentences still
 * running at this step (the batch is sorted by falling length).
 *
 * The exponential is written out (a polynomial, as vector math libraries do it) so that the
 * compiler can vectorise every loop without -ffast-math (-fno-trapping-math suffices). NaN
 * passes through unchanged, so a diverging run still ends with a NaN loss and is stopped.
 */
#include <stdint.h>

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
void lstm_forward_step(int64_t b, int64_t H, float *z, const float *c_prev,
                       float *c, float *tanh_c, float *h) {
    for (int64_t row = 0; row < b; ++row) {
        float *zi = z + row * 4 * H;
        const float *cp = c_prev ? c_prev + row * H : 0;
        if (cp) {
            forward_row(H, zi, zi + H, zi + 2 * H, zi + 3 * H, cp, c + row * H, tanh_c + row * H,
                        h + row * H, 1.0f);
        } else {
            float zeros[H];  /* c_{-1} = 0 */
            for (int64_t j = 0; j < H; ++j) zeros[j] = 0.0f;
            forward_row(H, zi, zi + H, zi + 2 * H, zi + 3 * H, zeros, c + row * H, tanh_c + row * H,
                        h + row * H, 0.0f);
        }
    }
}

/* One row of the backward step. incoming: dLoss/dc_t from step t+1 (NULL: none); c_prev NULL
 * at t = 0. Writes dz's four gate blocks and carry = dLoss/dc_t * f_t. */
static inline void backward_row(int64_t H, const float *restrict dh, const float *restrict incoming,
                                float *restrict carry, const float *restrict gi, const float *restrict gf,
                                const float *restrict gg, const float *restrict go,
                                const float *restrict c_prev, const float *restrict tanh_c,
                                float *restrict di, float *restrict df, float *restrict dg,
                                float *restrict d_o) {
    for (int64_t j = 0; j < H; ++j) {
        float i = gi[j], f = gf[j], g = gg[j], o = go[j], tc = tanh_c[j], d = dh[j];
        float dc = d * o * (1.0f - tc * tc) + incoming[j];
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
void lstm_backward_step(int64_t b, int64_t carried, int64_t H, const float *dh, float *carry,
                        const float *gates, const float *c_prev, const float *tanh_c, float *dz) {
    float zeros[H], incoming[H];
    for (int64_t j = 0; j < H; ++j) zeros[j] = 0.0f;
    for (int64_t row = 0; row < b; ++row) {
        const float *g = gates + row * 4 * H;
        float *d = dz + row * 4 * H;
        float *carry_row = carry + row * H;
        /* the carry is read and rewritten in place: copy what arrives before it is overwritten */
        if (row < carried) {
            for (int64_t j = 0; j < H; ++j) incoming[j] = carry_row[j];
        } else {
            for (int64_t j = 0; j < H; ++j) incoming[j] = 0.0f;
        }
        backward_row(H, dh + row * H, incoming, carry_row, g, g + H, g + 2 * H, g + 3 * H,
                     c_prev ? c_prev + row * H : zeros, tanh_c + row * H, d, d + H, d + 2 * H, d + 3 * H);
    }
}
