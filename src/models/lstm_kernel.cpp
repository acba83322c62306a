#include "models/lstm_kernel.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

namespace pricecast::models {
namespace {

// Samples per pass: bounds the scratch memory (gates of 12 samples x 60 steps
// x 512 floats = 1.5 MB at the design's shape) while giving the recurrent
// product two 6-row tiles to share each weight load (measured: 6, 12, 24 and
// 64 within 10% of each other; 12 the best).
constexpr std::size_t kBlockRows = 12;

// c[m * ldc + j] += sum over k of a[m * lda + k] * b[k * n + j], for m < rows,
// j < n, each element one chain in increasing k. b is a weight stored [depth][n].
using GemmFn = void (*)(const float* a, std::size_t lda, std::size_t rows, std::size_t depth, const float* b,
                        std::size_t n, float* c, std::size_t ldc);
// One LSTM step of one sample: gates [i f g o] (4 * hidden, biases and both
// products included) and the cell state in, new cell state and output h out.
using CellFn = void (*)(const float* gates, float* cell, float* h, std::size_t hidden);

void gemm_portable(const float* a, std::size_t lda, std::size_t rows, std::size_t depth, const float* b, std::size_t n,
                   float* c, std::size_t ldc) {
    for (std::size_t m = 0; m < rows; ++m) {
        float* cm = c + m * ldc;
        for (std::size_t k = 0; k < depth; ++k) {
            const float av = a[m * lda + k];
            const float* bk = b + k * n;
            for (std::size_t j = 0; j < n; ++j) cm[j] += av * bk[j];
        }
    }
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// Positions [from, hidden) of one step.
void cell_range(const float* gates, float* cell, float* h, std::size_t hidden, std::size_t from) {
    for (std::size_t j = from; j < hidden; ++j) {
        const float i = sigmoid(gates[j]), f = sigmoid(gates[hidden + j]), g = std::tanh(gates[2 * hidden + j]),
                    o = sigmoid(gates[3 * hidden + j]);
        cell[j] = f * cell[j] + i * g;
        h[j] = o * std::tanh(cell[j]);
    }
}

void cell_portable(const float* gates, float* cell, float* h, std::size_t hidden) { cell_range(gates, cell, h, hidden, 0); }

#define PRICECAST_AVX2 __attribute__((target("avx2,fma")))

// R rows x V vectors of 8 columns held in registers for the whole depth (the
// unroll pragmas matter: without them GCC keeps the accumulator array in memory
// and stores it on every k).
template <std::size_t R, std::size_t V>
PRICECAST_AVX2 inline void gemm_tile(const float* a, std::size_t lda, std::size_t depth, const float* b, std::size_t n,
                                     float* c, std::size_t ldc) {
    __m256 acc[R][V];
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (std::size_t v = 0; v < V; ++v) acc[r][v] = _mm256_loadu_ps(c + r * ldc + 8 * v);
    for (std::size_t k = 0; k < depth; ++k) {
        __m256 bv[V];
#pragma GCC unroll 8
        for (std::size_t v = 0; v < V; ++v) bv[v] = _mm256_loadu_ps(b + k * n + 8 * v);
#pragma GCC unroll 8
        for (std::size_t r = 0; r < R; ++r) {
            const __m256 av = _mm256_broadcast_ss(a + r * lda + k);
#pragma GCC unroll 8
            for (std::size_t v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (std::size_t v = 0; v < V; ++v) _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]);
}

// The rows left under a full 6-row tile, 1 to 5 of them, in one tile of that height.
PRICECAST_AVX2 inline void gemm_tail_tile(std::size_t rows, const float* a, std::size_t lda, std::size_t depth,
                                          const float* b, std::size_t n, float* c, std::size_t ldc) {
    switch (rows) {
        case 5: return gemm_tile<5, 2>(a, lda, depth, b, n, c, ldc);
        case 4: return gemm_tile<4, 2>(a, lda, depth, b, n, c, ldc);
        case 3: return gemm_tile<3, 2>(a, lda, depth, b, n, c, ldc);
        case 2: return gemm_tile<2, 2>(a, lda, depth, b, n, c, ldc);
        case 1: return gemm_tile<1, 2>(a, lda, depth, b, n, c, ldc);
        default: return;
    }
}

PRICECAST_AVX2 void gemm_avx2(const float* a, std::size_t lda, std::size_t rows, std::size_t depth, const float* b,
                              std::size_t n, float* c, std::size_t ldc) {
    const std::size_t n16 = n / 16 * 16;
    if (rows >= 2) {
        // Column tiles outside: a 16-column slice of b stays in L1 while the rows
        // stream by. 6 x 2 accumulators + 2 b vectors + 1 broadcast = 15 of 16 registers.
        for (std::size_t j = 0; j < n16; j += 16) {
            std::size_t m = 0;
            for (; m + 6 <= rows; m += 6) gemm_tile<6, 2>(a + m * lda, lda, depth, b + j, n, c + m * ldc + j, ldc);
            gemm_tail_tile(rows - m, a + m * lda, lda, depth, b + j, n, c + m * ldc + j, ldc);
        }
    } else if (rows == 1) {
        // Batch 1: eight independent accumulators hide the FMA latency.
        std::size_t j = 0;
        for (; j + 64 <= n; j += 64) gemm_tile<1, 8>(a, lda, depth, b + j, n, c + j, ldc);
        for (; j < n16; j += 16) gemm_tile<1, 2>(a, lda, depth, b + j, n, c + j, ldc);
    }
    for (std::size_t m = 0; m < rows; ++m)
        for (std::size_t j = n16; j < n; ++j) {
            float acc = c[m * ldc + j];
            for (std::size_t k = 0; k < depth; ++k) acc = __builtin_fmaf(a[m * lda + k], b[k * n + j], acc);
            c[m * ldc + j] = acc;
        }
}

// e^x to about 1 ulp (Cephes' expf: range reduction to [-ln2/2, ln2/2], degree-5 polynomial).
PRICECAST_AVX2 inline __m256 exp_avx2(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500E-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

PRICECAST_AVX2 inline __m256 sigmoid_avx2(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// tanh x = 1 - 2 / (e^2x + 1): exact to ~1e-7 absolute, which is what the probabilities need.
PRICECAST_AVX2 inline __m256 tanh_avx2(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    return _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(exp_avx2(_mm256_mul_ps(two, x)), one)));
}

PRICECAST_AVX2 void cell_avx2(const float* gates, float* cell, float* h, std::size_t hidden) {
    std::size_t j = 0;
    for (; j + 8 <= hidden; j += 8) {
        const __m256 i = sigmoid_avx2(_mm256_loadu_ps(gates + j)), f = sigmoid_avx2(_mm256_loadu_ps(gates + hidden + j)),
                     g = tanh_avx2(_mm256_loadu_ps(gates + 2 * hidden + j)),
                     o = sigmoid_avx2(_mm256_loadu_ps(gates + 3 * hidden + j));
        const __m256 c = _mm256_fmadd_ps(f, _mm256_loadu_ps(cell + j), _mm256_mul_ps(i, g));
        _mm256_storeu_ps(cell + j, c);
        _mm256_storeu_ps(h + j, _mm256_mul_ps(o, tanh_avx2(c)));
    }
    cell_range(gates, cell, h, hidden, j);  // a hidden size that is not a multiple of 8
}

struct KernelOps {
    GemmFn gemm;
    CellFn cell;
};

// PRICECAST_LSTM_PORTABLE=1 takes the portable path on any CPU, so the tests
// check it on machines that have AVX2 too.
const KernelOps& kernel_ops() {
    static const bool portable = std::getenv("PRICECAST_LSTM_PORTABLE") != nullptr;
    static const KernelOps ops = !portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                                     ? KernelOps{gemm_avx2, cell_avx2}
                                     : KernelOps{gemm_portable, cell_portable};
    return ops;
}

float dot(const float* x, const float* y, std::size_t n) {
    float s = 0;
    for (std::size_t i = 0; i < n; ++i) s += x[i] * y[i];
    return s;
}

void softmax(float* x, std::size_t n) {
    const float top = *std::max_element(x, x + n);
    float sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += x[i] = std::exp(x[i] - top);
    for (std::size_t i = 0; i < n; ++i) x[i] /= sum;
}

// Scratch memory reused across calls on the same thread (the model is const and shared).
struct Scratch {
    std::vector<float> gates, seq[2], cell, query, heads, out, hidden, logits, keyed_query, scores, mixed;
};
Scratch& scratch() {
    thread_local Scratch s;
    return s;
}

std::span<const float> parameter(const NamedParameters& params, const std::string& name, std::size_t size) {
    const auto it = params.find(name);
    if (it == params.end()) throw std::invalid_argument("LSTM kernel: parameter " + name + " is missing");
    if (it->second.size() != size)
        throw std::invalid_argument(fmt::format("LSTM kernel: parameter {} has {} values, the shape needs {}", name,
                                                it->second.size(), size));
    return it->second;
}

// Rows [from, from + count) of a row-major [*, in] matrix, transposed to [in][count].
std::vector<float> transposed_rows(std::span<const float> w, std::size_t in, std::size_t from, std::size_t count) {
    std::vector<float> t(in * count);
    for (std::size_t o = 0; o < count; ++o)
        for (std::size_t i = 0; i < in; ++i) t[i * count + o] = w[(from + o) * in + i];
    return t;
}

// Sets each of `rows` rows of `out` (width bias.size()) to the bias, then adds x W^T.
void apply(const GemmFn gemm, const float* x, std::size_t ldx, std::size_t rows, std::size_t in,
           const std::vector<float>& weight_t, const std::vector<float>& bias, float* out, std::size_t ldo) {
    for (std::size_t r = 0; r < rows; ++r) std::copy(bias.begin(), bias.end(), out + r * ldo);
    gemm(x, ldx, rows, in, weight_t.data(), bias.size(), out, ldo);
}

}  // namespace

LstmAttentionKernel::LstmAttentionKernel(const LstmShape& shape, const NamedParameters& params) : shape_(shape) {
    const std::size_t h = shape.hidden, g = 4 * h;
    if (h == 0 || shape.heads == 0 || h % shape.heads != 0 || shape.steps == 0 || shape.width == 0)
        throw std::invalid_argument(fmt::format("LSTM kernel: unusable shape (hidden {}, heads {}, steps {}, width {})",
                                                h, shape.heads, shape.steps, shape.width));
    auto linear = [&](const std::string& prefix, std::size_t in, std::size_t out) {
        const auto w = parameter(params, prefix + ".weight", out * in);
        const auto b = parameter(params, prefix + ".bias", out);
        return Linear{in, out, transposed_rows(w, in, 0, out), {b.begin(), b.end()}};
    };
    for (std::size_t l = 0; l < shape.layers; ++l) {
        const std::size_t in = l == 0 ? shape.width : h;
        const auto sfx = "_l" + std::to_string(l);
        const auto b_ih = parameter(params, "lstm.bias_ih" + sfx, g), b_hh = parameter(params, "lstm.bias_hh" + sfx, g);
        Linear ip{in, g, transposed_rows(parameter(params, "lstm.weight_ih" + sfx, g * in), in, 0, g), std::vector<float>(g)};
        for (std::size_t i = 0; i < g; ++i) ip.bias[i] = b_ih[i] + b_hh[i];
        input_proj_.push_back(std::move(ip));
        recurrent_.push_back({h, g, transposed_rows(parameter(params, "lstm.weight_hh" + sfx, g * h), h, 0, g), {}});
    }
    const auto in_w = parameter(params, "attn.in_proj_weight", 3 * h * h);
    const auto in_b = parameter(params, "attn.in_proj_bias", 3 * h);
    query_ = {h, h, transposed_rows(in_w, h, 0, h), {in_b.begin(), in_b.begin() + static_cast<std::ptrdiff_t>(h)}};
    key_weight_.assign(in_w.begin() + static_cast<std::ptrdiff_t>(h * h), in_w.begin() + static_cast<std::ptrdiff_t>(2 * h * h));
    value_weight_.assign(in_w.begin() + static_cast<std::ptrdiff_t>(2 * h * h), in_w.end());
    value_bias_.assign(in_b.begin() + static_cast<std::ptrdiff_t>(2 * h), in_b.end());
    out_proj_ = linear("attn.out_proj", h, h);
    fc1_ = linear("fc1", h, shape.head_hidden);
    fc2_ = linear("fc2", shape.head_hidden, kClasses);
}

std::vector<ClassProbs> LstmAttentionKernel::forward(std::span<const float> input, std::size_t n,
                                                     std::size_t threads) const {
    const std::size_t per_sample = shape_.steps * shape_.width;
    if (input.size() != n * per_sample)
        throw std::invalid_argument(fmt::format("LSTM kernel: {} input values for {} samples of {}x{}", input.size(), n,
                                                shape_.steps, shape_.width));
    std::vector<ClassProbs> out(n);
    auto run = [&](std::size_t from, std::size_t to) {
        for (std::size_t b = from; b < to; b += kBlockRows)
            forward_block(input.data() + b * per_sample, std::min(kBlockRows, to - b), out.data() + b);
    };
    // Contiguous shares, one per thread: a sample's result does not depend on
    // its neighbours, so any split gives the same probabilities.
    const std::size_t share = (n + std::max<std::size_t>(threads, 1) - 1) / std::max<std::size_t>(threads, 1);
    std::vector<std::thread> helpers;
    for (std::size_t from = share; from < n; from += share) helpers.emplace_back(run, from, std::min(n, from + share));
    run(0, std::min(n, share));
    for (auto& h : helpers) h.join();
    return out;
}

void LstmAttentionKernel::forward_block(const float* x, std::size_t rows, ClassProbs* out) const {
    const auto& ops = kernel_ops();
    const std::size_t steps = shape_.steps, h = shape_.hidden, g = 4 * h;
    auto& s = scratch();
    s.gates.resize(rows * steps * g);
    const float* in = x;
    for (std::size_t l = 0; l < shape_.layers; ++l) {
        // Input contributions of every step at once, one product over rows x steps.
        apply(ops.gemm, in, input_proj_[l].in, rows * steps, input_proj_[l].in, input_proj_[l].weight_t, input_proj_[l].bias,
              s.gates.data(), g);
        auto& seq = s.seq[l % 2];
        seq.resize(rows * steps * h);
        s.cell.assign(rows * h, 0.0f);
        for (std::size_t t = 0; t < steps; ++t) {
            float* gates = s.gates.data() + t * g;  // sample r's at gates + r * steps * g
            if (t > 0) ops.gemm(seq.data() + (t - 1) * h, steps * h, rows, h, recurrent_[l].weight_t.data(), g, gates, steps * g);
            for (std::size_t r = 0; r < rows; ++r)
                ops.cell(gates + r * steps * g, s.cell.data() + r * h, seq.data() + (r * steps + t) * h, h);
        }
        in = seq.data();
    }
    // Attention: only the last position's output is used, so only the last step queries.
    s.query.resize(rows * h);
    apply(ops.gemm, in + (steps - 1) * h, steps * h, rows, h, query_.weight_t, query_.bias, s.query.data(), h);
    s.heads.resize(rows * h);
    for (std::size_t r = 0; r < rows; ++r) attend(in + r * steps * h, s.query.data() + r * h, s.heads.data() + r * h);
    s.out.resize(rows * h);
    apply(ops.gemm, s.heads.data(), h, rows, h, out_proj_.weight_t, out_proj_.bias, s.out.data(), h);
    s.hidden.resize(rows * fc1_.out);
    apply(ops.gemm, s.out.data(), h, rows, h, fc1_.weight_t, fc1_.bias, s.hidden.data(), fc1_.out);
    for (auto& v : s.hidden) v = std::max(v, 0.0f);
    s.logits.resize(rows * kClasses);
    apply(ops.gemm, s.hidden.data(), fc1_.out, rows, fc1_.out, fc2_.weight_t, fc2_.bias, s.logits.data(), kClasses);
    for (std::size_t r = 0; r < rows; ++r) {
        float* z = s.logits.data() + r * kClasses;
        softmax(z, kClasses);
        std::copy_n(z, kClasses, out[r].begin());
    }
}

// One sample's attention output (before out_proj) for its query. The key bias
// adds the same q.b_k to every step's score and cancels in the softmax, and
// the value bias comes out of the weighted sum whole (the weights sum to 1), so
// neither keys nor values are projected per step: the query is carried into
// the key space once per head and the mixed outputs into the value space once.
void LstmAttentionKernel::attend(const float* seq, const float* query, float* heads_out) const {
    const std::size_t e = shape_.hidden, steps = shape_.steps, dh = e / shape_.heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
    auto& s = scratch();
    s.keyed_query.resize(e);
    s.scores.resize(steps);
    s.mixed.resize(e);
    for (std::size_t head = 0; head < shape_.heads; ++head) {
        std::fill(s.keyed_query.begin(), s.keyed_query.end(), 0.0f);
        for (std::size_t d = head * dh; d < (head + 1) * dh; ++d) {
            const float qd = query[d] * scale;
            const float* w = key_weight_.data() + d * e;
            for (std::size_t i = 0; i < e; ++i) s.keyed_query[i] += qd * w[i];
        }
        for (std::size_t t = 0; t < steps; ++t) s.scores[t] = dot(s.keyed_query.data(), seq + t * e, e);
        softmax(s.scores.data(), steps);
        std::fill(s.mixed.begin(), s.mixed.end(), 0.0f);
        for (std::size_t t = 0; t < steps; ++t)
            for (std::size_t i = 0; i < e; ++i) s.mixed[i] += s.scores[t] * seq[t * e + i];
        for (std::size_t d = head * dh; d < (head + 1) * dh; ++d)
            heads_out[d] = value_bias_[d] + dot(value_weight_.data() + d * e, s.mixed.data(), e);
    }
}

}  // namespace pricecast::models
