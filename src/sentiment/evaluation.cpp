#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "core/input_file.hpp"
#include "core/text.hpp"
#include "data/csv.hpp"
#include "sentiment/sentiment.hpp"

namespace pricecast::sentiment {
namespace {

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

[[noreturn]] void fail(const std::filesystem::path& path, std::size_t line, const std::string& why) {
    throw std::runtime_error(fmt::format("{}:{}: {}", path.string(), line, why));
}

// PhraseBank: `sentence@label` per line; the file is UTF-8 or latin-1 as a whole.
std::vector<LabeledText> read_phrasebank(const std::string& bytes, const std::filesystem::path& path) {
    const std::string text = invalid_utf8_at(bytes) ? latin1_to_utf8(bytes) : bytes;
    std::vector<LabeledText> out;
    std::istringstream in(text);
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
        if (trim(line).empty()) continue;
        const auto at = line.rfind('@');
        if (at == std::string::npos) fail(path, n, "expected sentence@label");
        const auto label = parse_label(trim(std::string_view(line).substr(at + 1)));
        if (!label) fail(path, n, "label '" + trim(std::string_view(line).substr(at + 1)) + "' is not negative, neutral or positive");
        std::string sentence = trim(std::string_view(line).substr(0, at));
        if (sentence.empty()) fail(path, n, "empty sentence");
        out.push_back({std::move(sentence), *label});
    }
    return out;
}

std::vector<LabeledText> read_csv(const std::string& bytes, const std::filesystem::path& path) {
    std::istringstream in(bytes);
    std::vector<std::string> fields;
    std::size_t line = 0;
    if (!data::read_csv_record(in, fields, line)) fail(path, 1, "empty file");
    int text_col = -1, label_col = -1;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const auto h = lower(trim(fields[i]));
        if (h == "text" || h == "sentence" || h == "headline") text_col = static_cast<int>(i);
        if (h == "label" || h == "sentiment") label_col = static_cast<int>(i);
    }
    if (text_col < 0 || label_col < 0) fail(path, 1, "header needs a 'text' and a 'label' column");
    std::vector<LabeledText> out;
    for (std::size_t start = line + 1; data::read_csv_record(in, fields, line); start = line + 1) {
        if (fields.size() == 1 && trim(fields[0]).empty()) continue;
        const auto need = static_cast<std::size_t>(std::max(text_col, label_col));
        if (fields.size() <= need) fail(path, start, fmt::format("{} fields, the header has more", fields.size()));
        auto text = trim(fields[static_cast<std::size_t>(text_col)]);
        if (auto problem = check_text(text)) fail(path, start, "text: " + *problem);
        const auto label = parse_label(lower(trim(fields[static_cast<std::size_t>(label_col)])));
        if (!label)
            fail(path, start, "label '" + fields[static_cast<std::size_t>(label_col)] +
                                  "' is not negative, neutral or positive");
        out.push_back({std::move(text), *label});
    }
    return out;
}

}  // namespace

std::vector<LabeledText> read_labeled(const std::filesystem::path& path) {
    auto f = open_input(path);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // A CSV starts with a header naming its columns; anything else is PhraseBank.
    const auto header = lower(bytes.substr(0, bytes.find('\n')));
    const bool csv = header.find(',') != std::string::npos && header.find('@') == std::string::npos;
    auto data = csv ? read_csv(bytes, path) : read_phrasebank(bytes, path);
    if (data.empty()) throw std::runtime_error(path.string() + ": no labeled sentences");
    return data;
}

EvalReport evaluate(const std::vector<Label>& truth, const std::vector<Label>& predicted) {
    if (truth.size() != predicted.size()) throw std::invalid_argument("evaluate: truth and predictions differ in length");
    EvalReport r;
    r.n = truth.size();
    for (std::size_t i = 0; i < truth.size(); ++i)
        ++r.confusion[static_cast<std::size_t>(truth[i])][static_cast<std::size_t>(predicted[i])];
    std::size_t correct = 0;
    for (std::size_t c = 0; c < kLabels; ++c) {
        std::size_t tp = r.confusion[c][c], pred = 0, actual = 0;
        for (std::size_t k = 0; k < kLabels; ++k) {
            pred += r.confusion[k][c];
            actual += r.confusion[c][k];
        }
        correct += tp;
        // sklearn's zero_division=0 convention.
        r.precision[c] = pred ? static_cast<double>(tp) / static_cast<double>(pred) : 0.0;
        r.recall[c] = actual ? static_cast<double>(tp) / static_cast<double>(actual) : 0.0;
        const double s = r.precision[c] + r.recall[c];
        r.f1[c] = s > 0 ? 2 * r.precision[c] * r.recall[c] / s : 0.0;
    }
    r.accuracy = r.n ? static_cast<double>(correct) / static_cast<double>(r.n) : 0.0;
    r.macro_f1 = (r.f1[0] + r.f1[1] + r.f1[2]) / 3;
    return r;
}

EvalReport evaluate(const SentimentScorer& scorer, const std::vector<LabeledText>& data) {
    std::vector<Label> truth, pred;
    for (const auto& d : data) {
        truth.push_back(d.label);
        pred.push_back(scorer.score(d.text).label);
    }
    return evaluate(truth, pred);
}

EvalReport cross_validate(const std::vector<LabeledText>& data, int folds, const LogisticOptions& options) {
    if (folds < 2) throw std::invalid_argument("cross-validation needs at least 2 folds");
    // Stratified: shuffle each class, then deal its members round-robin to the folds.
    std::vector<int> fold_of(data.size());
    std::mt19937_64 rng(options.seed);
    for (std::size_t c = 0; c < kLabels; ++c) {
        std::vector<std::size_t> members;
        for (std::size_t i = 0; i < data.size(); ++i)
            if (static_cast<std::size_t>(data[i].label) == c) members.push_back(i);
        std::shuffle(members.begin(), members.end(), rng);
        for (std::size_t k = 0; k < members.size(); ++k) fold_of[members[k]] = static_cast<int>(k % static_cast<std::size_t>(folds));
    }
    std::vector<Label> truth, pred;
    for (int f = 0; f < folds; ++f) {
        std::vector<LabeledText> train;
        for (std::size_t i = 0; i < data.size(); ++i)
            if (fold_of[i] != f) train.push_back(data[i]);
        const auto model = LogisticScorer::train(train, options);
        for (std::size_t i = 0; i < data.size(); ++i)
            if (fold_of[i] == f) {
                truth.push_back(data[i].label);
                pred.push_back(model.score(data[i].text).label);
            }
    }
    return evaluate(truth, pred);
}

nlohmann::json EvalReport::to_json() const {
    nlohmann::json j{{"n", n}, {"accuracy", accuracy}, {"macro_f1", macro_f1}};
    for (std::size_t c = 0; c < kLabels; ++c) {
        const std::string name(to_string(static_cast<Label>(c)));
        j["per_class"][name] = {{"precision", precision[c]}, {"recall", recall[c]}, {"f1", f1[c]}};
        j["confusion"][name] = {{"negative", confusion[c][0]}, {"neutral", confusion[c][1]}, {"positive", confusion[c][2]}};
    }
    return j;
}

std::string EvalReport::to_text() const {
    std::string s = fmt::format("sentences {}   accuracy {:.4f}   macro-F1 {:.4f}\n\n", n, accuracy, macro_f1);
    s += fmt::format("{:<10} {:>9} {:>9} {:>9}\n", "class", "precision", "recall", "F1");
    for (std::size_t c = 0; c < kLabels; ++c)
        s += fmt::format("{:<10} {:>9.4f} {:>9.4f} {:>9.4f}\n", to_string(static_cast<Label>(c)), precision[c], recall[c], f1[c]);
    s += fmt::format("\nconfusion (rows: truth, columns: predicted)\n{:<10} {:>9} {:>9} {:>9}\n", "", "negative",
                     "neutral", "positive");
    for (std::size_t c = 0; c < kLabels; ++c)
        s += fmt::format("{:<10} {:>9} {:>9} {:>9}\n", to_string(static_cast<Label>(c)), confusion[c][0], confusion[c][1],
                         confusion[c][2]);
    return s;
}

}  // namespace pricecast::sentiment
