// Multinomial logistic regression over hashed word and word-bigram features
// (signed hashing, binary counts, L2-normalised rows), trained with AdaGrad.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include "sentiment/sentiment.hpp"

namespace pricecast::sentiment {
namespace {

constexpr const char* kFormat = "pricecast-sentiment-logistic";
constexpr int kFormatVersion = 1;

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ULL) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    return h;
}

struct Feature {
    std::uint32_t index;
    float value;
};

// Sparse row: hashed unigrams and bigrams (with sentence boundaries), duplicates merged.
// Strips a few English inflections so "increased", "increases" and "increase"
// share a feature (the word itself stays a feature too).
std::string_view crude_stem(std::string_view w) {
    for (std::string_view suf : {"ing", "ed", "es", "s"})
        if (w.size() > suf.size() + 3 && w.ends_with(suf)) return w.substr(0, w.size() - suf.size());
    return w;
}

// The lexicon scorer's verdict as two extra features (stacking): it knows rules
// a bag of words cannot express, such as "loss narrowed" being good news.
void add_lexicon_features(std::vector<Feature>& row, const LexiconScorer& lexicon, std::string_view text, int bits) {
    const double s = lexicon.score(text).score;
    const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
    row.push_back({static_cast<std::uint32_t>(fnv1a("<lexicon+>") & mask), static_cast<float>(std::max(s, 0.0))});
    row.push_back({static_cast<std::uint32_t>(fnv1a("<lexicon->") & mask), static_cast<float>(std::max(-s, 0.0))});
}

std::vector<Feature> featurize(std::string_view text, int bits, bool bigrams, const LexiconScorer* lexicon) {
    const auto tokens = tokenize(text);
    const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
    std::vector<std::pair<std::uint32_t, float>> raw;
    auto add = [&](std::uint64_t h) {
        raw.emplace_back(static_cast<std::uint32_t>(h & mask), (h >> 63) ? -1.0f : 1.0f);
    };
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        add(fnv1a(tokens[i].text));
        if (auto stem = crude_stem(tokens[i].text); stem.size() != tokens[i].text.size()) add(fnv1a(stem, fnv1a("~")));
        if (bigrams) {
            const std::string_view prev = i ? std::string_view(tokens[i - 1].text) : std::string_view("<s>");
            add(fnv1a(tokens[i].text, fnv1a(" ", fnv1a(prev))));
        }
    }
    if (bigrams && !tokens.empty()) add(fnv1a("</s>", fnv1a(" ", fnv1a(tokens.back().text))));
    std::sort(raw.begin(), raw.end());
    std::vector<Feature> row;
    for (const auto& [i, v] : raw) {
        if (!row.empty() && row.back().index == i) row.back().value += v;
        else row.push_back({i, v});
    }
    double norm = 0;
    for (const auto& f : row) norm += double(f.value) * f.value;
    norm = std::sqrt(norm);
    for (auto& f : row) f.value = norm > 0 ? static_cast<float>(f.value / norm) : 0.0f;
    if (lexicon) add_lexicon_features(row, *lexicon, text, bits);
    return row;
}

template <class W>
std::array<double, kLabels> softmax_of(const W& w, std::size_t dim, const std::vector<Feature>& row) {
    std::array<double, kLabels> z{};
    for (std::size_t c = 0; c < kLabels; ++c) {
        double s = w[c * (dim + 1) + dim];  // bias
        for (const auto& f : row) s += w[c * (dim + 1) + f.index] * f.value;
        z[c] = s;
    }
    const double m = *std::max_element(z.begin(), z.end());
    double sum = 0;
    for (auto& v : z) sum += (v = std::exp(v - m));
    for (auto& v : z) v /= sum;
    return z;
}

}  // namespace

LogisticScorer LogisticScorer::train(const std::vector<LabeledText>& data, const LogisticOptions& o) {
    if (data.empty()) throw std::invalid_argument("sentiment training: no labeled sentences");
    if (o.hash_bits < 8 || o.hash_bits > 24) throw std::invalid_argument("sentiment training: hash_bits must be in [8, 24]");
    const std::size_t dim = std::size_t{1} << o.hash_bits;
    LogisticScorer s;
    if (o.lexicon_features) s.lexicon_ = std::make_shared<const LexiconScorer>(LexiconScorer::load());
    std::vector<std::vector<Feature>> rows;
    rows.reserve(data.size());
    std::array<double, kLabels> count{};
    std::uint64_t data_hash = 0xcbf29ce484222325ULL;
    for (const auto& d : data) {
        rows.push_back(featurize(d.text, o.hash_bits, o.bigrams, s.lexicon_.get()));
        ++count[static_cast<std::size_t>(d.label)];
        data_hash = fnv1a(d.text + '\t' + std::string(to_string(d.label)) + '\n', data_hash);
    }
    std::array<double, kLabels> class_weight{1, 1, 1};
    if (o.balanced_class_weights)
        for (std::size_t c = 0; c < kLabels; ++c)
            class_weight[c] = count[c] > 0 ? static_cast<double>(data.size()) / (kLabels * count[c]) : 0.0;

    std::vector<double> w(kLabels * (dim + 1), 0.0), g2(w.size(), 1e-8);
    std::vector<std::size_t> order(data.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(o.seed);
    auto step = [&](std::size_t k, double grad) {
        g2[k] += grad * grad;
        w[k] -= o.learning_rate * grad / std::sqrt(g2[k]);
    };
    for (int epoch = 0; epoch < o.epochs; ++epoch) {
        std::shuffle(order.begin(), order.end(), rng);
        for (std::size_t i : order) {
            const auto& row = rows[i];
            const auto p = softmax_of(w, dim, row);
            const auto y = static_cast<std::size_t>(data[i].label);
            for (std::size_t c = 0; c < kLabels; ++c) {
                const double err = class_weight[y] * (p[c] - (c == y ? 1.0 : 0.0));
                const std::size_t base = c * (dim + 1);
                for (const auto& f : row) step(base + f.index, err * f.value + o.l2 * w[base + f.index]);
                step(base + dim, err);
            }
        }
    }
    s.options_ = o;
    s.weights_.assign(w.begin(), w.end());
    s.info_ = {{"format", kFormat},
               {"version", kFormatVersion},
               {"hash_bits", o.hash_bits},
               {"bigrams", o.bigrams},
               {"lexicon_features", o.lexicon_features},
               {"classes", {"negative", "neutral", "positive"}},
               {"training",
                {{"sentences", data.size()},
                 {"class_counts", {count[0], count[1], count[2]}},
                 {"data_fnv1a64", fmt::format("{:016x}", data_hash)},
                 {"epochs", o.epochs},
                 {"learning_rate", o.learning_rate},
                 {"l2", o.l2},
                 {"balanced_class_weights", o.balanced_class_weights},
                 {"seed", o.seed},
                 {"created", std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count()}}}};
    return s;
}

std::array<double, kLabels> LogisticScorer::probabilities(std::string_view text) const {
    const std::size_t dim = std::size_t{1} << options_.hash_bits;
    return softmax_of(weights_, dim, featurize(text, options_.hash_bits, options_.bigrams, lexicon_.get()));
}

Sentiment LogisticScorer::score(std::string_view text) const {
    const auto p = probabilities(text);
    const auto best = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    return {p[2] - p[0], static_cast<Label>(best), p[best]};
}

void LogisticScorer::save(const std::filesystem::path& path) const {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(path.string() + ": cannot open for writing");
    f << info_.dump() << '\n';
    f.write(reinterpret_cast<const char*>(weights_.data()), static_cast<std::streamsize>(weights_.size() * sizeof(float)));
    if (!f) throw std::runtime_error(path.string() + ": write failed");
}

LogisticScorer LogisticScorer::load(const std::filesystem::path& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path.string() + ": cannot open");
    auto bad = [&](const std::string& why) {
        return std::runtime_error(path.string() + ": not a sentiment model artifact: " + why);
    };
    std::string header;
    std::getline(f, header);
    LogisticScorer s;
    try {
        s.info_ = nlohmann::json::parse(header);
        if (s.info_.at("format") != kFormat) throw bad("format is " + s.info_.at("format").dump());
        if (s.info_.at("version") != kFormatVersion) throw bad("unsupported version " + s.info_.at("version").dump());
        s.options_.hash_bits = s.info_.at("hash_bits").get<int>();
        s.options_.bigrams = s.info_.at("bigrams").get<bool>();
        s.options_.lexicon_features = s.info_.value("lexicon_features", false);
    } catch (const nlohmann::json::exception& e) {
        throw bad(std::string("header: ") + e.what());
    }
    if (s.options_.hash_bits < 8 || s.options_.hash_bits > 24) throw bad("hash_bits out of range");
    if (s.options_.lexicon_features) s.lexicon_ = std::make_shared<const LexiconScorer>(LexiconScorer::load());
    s.weights_.resize(kLabels * ((std::size_t{1} << s.options_.hash_bits) + 1));
    f.read(reinterpret_cast<char*>(s.weights_.data()), static_cast<std::streamsize>(s.weights_.size() * sizeof(float)));
    if (f.gcount() != static_cast<std::streamsize>(s.weights_.size() * sizeof(float))) throw bad("truncated weights");
    if (f.peek() != std::char_traits<char>::eof()) throw bad("trailing bytes after the weights");
    return s;
}

}  // namespace pricecast::sentiment
