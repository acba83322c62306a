// News sentiment: a score in [-1, 1], a label and a confidence per text.
//
// Two scorers behind one interface:
//   - LexiconScorer: a finance word list (AFINN-165 financial market news, a
//     data file) plus rules — negation, intensifiers and dampeners, "but"
//     clauses, ALL-CAPS and "!" emphasis, and direction words that flip on bad
//     metrics ("loss narrowed" is good news). Needs no training.
//   - LogisticScorer: hashed word and word-bigram features with multinomial
//     logistic regression, trained on labeled sentences, saved as a versioned
//     artifact.
// Scorers are immutable after construction and safe to share between threads.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.hpp"

namespace pricecast::sentiment {

enum class Label : std::uint8_t { negative = 0, neutral = 1, positive = 2 };
inline constexpr std::size_t kLabels = 3;
std::string_view to_string(Label l);
std::optional<Label> parse_label(std::string_view text);  // "negative", "neutral", "positive"

struct Sentiment {
    double score = 0;  // [-1, 1]
    Label label = Label::neutral;
    double confidence = 0;  // [0, 1]
};

class SentimentScorer {
public:
    virtual ~SentimentScorer() = default;
    virtual Sentiment score(std::string_view text) const = 0;
    // Headline and body together.
    Sentiment score(const NewsItem& item) const;
    virtual std::string name() const = 0;
};

// ---- text ---------------------------------------------------------------------------

struct Token {
    std::string text;  // lower case
    bool all_caps = false;
};
// Words (letters, digits, inner apostrophes and hyphens; non-ASCII bytes count
// as letters), with "%" kept as a token; numbers become "<num>".
std::vector<Token> tokenize(std::string_view text);
// Why a text cannot be scored (empty, invalid UTF-8 at a byte offset), if so.
std::optional<std::string> check_text(std::string_view text);

// ---- lexicon + rules ------------------------------------------------------------------

class LexiconScorer final : public SentimentScorer {
public:
    // The AFINN list and our finance rules file, from the shipped data folder
    // (PRICECAST_SENTIMENT_LEXICON_DIR overrides it).
    static std::filesystem::path default_dir();
    // Throws std::runtime_error naming the file and line of a bad entry.
    static LexiconScorer load(const std::filesystem::path& dir = default_dir());

    using SentimentScorer::score;
    Sentiment score(std::string_view text) const override;
    std::string name() const override { return "lexicon"; }
    std::size_t entries() const;

private:
    struct Data;
    LexiconScorer();
    std::shared_ptr<const Data> data_;
};

// ---- trainable classifier ----------------------------------------------------------------

struct LabeledText {
    std::string text;
    Label label = Label::neutral;
};

struct LogisticOptions {
    int hash_bits = 18;
    bool bigrams = true;
    // Adds the lexicon scorer's verdict as two features (it then needs the lexicon files).
    bool lexicon_features = true;
    int epochs = 25;
    double learning_rate = 0.5;  // AdaGrad
    double l2 = 1e-6;
    bool balanced_class_weights = false;
    std::uint64_t seed = 1;
};

class LogisticScorer final : public SentimentScorer {
public:
    static LogisticScorer train(const std::vector<LabeledText>& data, const LogisticOptions& options = {});
    // Artifact: a JSON header line (format, version, options, classes, training
    // summary) followed by the float32 weights. Throws std::runtime_error naming
    // the file when it is not a valid artifact.
    static LogisticScorer load(const std::filesystem::path& path);
    void save(const std::filesystem::path& path) const;

    using SentimentScorer::score;
    Sentiment score(std::string_view text) const override;
    std::array<double, kLabels> probabilities(std::string_view text) const;
    std::string name() const override { return "logistic"; }
    const nlohmann::json& info() const { return info_; }

private:
    LogisticScorer() = default;
    LogisticOptions options_;
    std::vector<float> weights_;  // kLabels x (2^hash_bits + 1): one bias per class at the end
    std::shared_ptr<const LexiconScorer> lexicon_;
    nlohmann::json info_;
};

// ---- data and evaluation ---------------------------------------------------------------------

// CSV with a header holding `text` and `label` columns, or Financial PhraseBank
// `sentence@label` lines (UTF-8, or latin-1 converted to UTF-8). Throws
// std::runtime_error naming the file, line and problem.
std::vector<LabeledText> read_labeled(const std::filesystem::path& path);

struct EvalReport {
    std::size_t n = 0;
    double accuracy = 0, macro_f1 = 0;
    std::array<double, kLabels> precision{}, recall{}, f1{};
    std::array<std::array<std::size_t, kLabels>, kLabels> confusion{};  // [truth][predicted]
    nlohmann::json to_json() const;
    std::string to_text() const;
};
EvalReport evaluate(const std::vector<Label>& truth, const std::vector<Label>& predicted);
EvalReport evaluate(const SentimentScorer& scorer, const std::vector<LabeledText>& data);
// Stratified k-fold: each fold scored by a classifier trained on the others.
EvalReport cross_validate(const std::vector<LabeledText>& data, int folds, const LogisticOptions& options = {});

}  // namespace pricecast::sentiment
