// Inference of the LSTM-attention network (models/lstm.hpp) in plain C++,
// without libtorch: the same parameters, a fused forward pass. libtorch runs the
// recurrence as ~10 small tensor ops per step and layer, and at batch 1 their
// dispatch costs more than the arithmetic; here each step is one matrix product
// into preallocated gates plus one pass of activations.
//
// Every output element is one multiply-add chain in a fixed order whatever the
// batch size, so a sample's probabilities do not depend on which samples share
// its call (libtorch's BLAS blocks by batch size and does not promise that).
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "models/model.hpp"

namespace pricecast::models {

struct LstmShape {
    std::size_t width = 0, steps = 0, hidden = 0, layers = 0, heads = 0, head_hidden = 0;
};

// Float32 parameters by PyTorch's names (lstm.weight_ih_l0, attn.in_proj_weight,
// fc1.weight, ...), row-major as torch stores them.
using NamedParameters = std::map<std::string, std::span<const float>>;

class LstmAttentionKernel {
public:
    // Copies the parameters into the layouts the kernel reads; throws
    // std::invalid_argument naming a missing or mis-sized parameter.
    LstmAttentionKernel(const LstmShape& shape, const NamedParameters& params);

    // input: [n, steps, width] row-major -> n probability rows (softmax of the
    // logits). With threads > 1 the samples are shared out among that many
    // threads (the results are the same bit for bit).
    std::vector<ClassProbs> forward(std::span<const float> input, std::size_t n, std::size_t threads = 1) const;

private:
    struct Linear {  // y = x W^T + b, with W^T stored [in][out]
        std::size_t in = 0, out = 0;
        std::vector<float> weight_t, bias;
    };
    void forward_block(const float* x, std::size_t rows, ClassProbs* out) const;
    void attend(const float* seq, const float* query, float* heads_out) const;

    LstmShape shape_;
    std::vector<Linear> input_proj_, recurrent_;  // per layer; biases b_ih + b_hh on input_proj_
    Linear query_, out_proj_, fc1_, fc2_;
    std::vector<float> key_weight_, value_weight_, value_bias_;  // [hidden][hidden] as torch stores them
};

}  // namespace pricecast::models
