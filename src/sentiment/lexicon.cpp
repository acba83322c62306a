// The lexicon + rules scorer. The rules follow VADER (Hutto & Gilbert, 2014) —
// negation scalar, booster increments, "but" weighting, caps and "!" emphasis,
// the x / sqrt(x^2 + 15) normalisation — plus one finance rule: a direction
// word next to a bad metric flips ("costs fell", "loss narrowed" are good).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

#include "sentiment/sentiment.hpp"

namespace pricecast::sentiment {

enum class Role : std::uint8_t { word, up, down, bad, metric, negation, intensifier, dampener, contrast };

struct Entry {
    double valence = 0;
    Role role = Role::word;
};

struct LexiconScorer::Data {
    std::unordered_map<std::string, Entry> words;  // one to three words joined by spaces
};

namespace {

constexpr double kNegation = -0.74;    // VADER's N_SCALAR
constexpr double kBooster = 0.293;     // VADER's B_INCR
constexpr double kCapsBoost = 0.733;   // VADER's C_INCR
constexpr double kExclamation = 0.292;
constexpr double kAlpha = 15;          // normalisation
constexpr double kNeutralBand = 0.3;   // |score| below this is neutral
constexpr int kMaxPhrase = 3, kModifierWindow = 3, kMetricWindow = 4;

std::optional<Role> parse_role(std::string_view s) {
    static const std::pair<const char*, Role> roles[] = {
        {"word", Role::word},         {"up", Role::up},           {"down", Role::down},
        {"bad", Role::bad},           {"metric", Role::metric},   {"negation", Role::negation},
        {"intensifier", Role::intensifier}, {"dampener", Role::dampener}, {"contrast", Role::contrast}};
    for (const auto& [name, r] : roles)
        if (s == name) return r;
    return std::nullopt;
}

// Lines of `phrase<TAB>valence[<TAB>role]`; '#' starts a comment line.
void load_file(const std::filesystem::path& path, bool with_roles, std::unordered_map<std::string, Entry>& into) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path.string() + ": cannot open the sentiment lexicon");
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
        if (line.empty() || line[0] == '#') continue;
        auto fail = [&](const std::string& why) {
            throw std::runtime_error(fmt::format("{}:{}: {}", path.string(), n, why));
        };
        const auto tab = line.find('\t');
        if (tab == std::string::npos || tab == 0) fail("expected phrase<TAB>valence");
        const auto tab2 = line.find('\t', tab + 1);
        const std::string value = line.substr(tab + 1, tab2 == std::string::npos ? std::string::npos : tab2 - tab - 1);
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || !std::isfinite(v) || std::abs(v) > 5)
            fail("valence '" + value + "' is not a number in [-5, 5]");
        Entry e{v, Role::word};
        if (with_roles && tab2 != std::string::npos) {
            auto r = parse_role(std::string_view(line).substr(tab2 + 1));
            if (!r) fail("unknown role '" + line.substr(tab2 + 1) + "'");
            e.role = *r;
        }
        into[line.substr(0, tab)] = e;
    }
}

struct Item {
    std::size_t pos = 0, len = 1;
    Entry entry;
};

// Longest phrase match at each position.
std::vector<Item> match(const std::unordered_map<std::string, Entry>& words, const std::vector<Token>& tokens) {
    std::vector<Item> items;
    for (std::size_t i = 0; i < tokens.size();) {
        std::size_t used = 1;
        for (std::size_t len = std::min<std::size_t>(kMaxPhrase, tokens.size() - i); len >= 1; --len) {
            std::string key = tokens[i].text;
            for (std::size_t k = 1; k < len; ++k) key += ' ' + tokens[i + k].text;
            if (auto it = words.find(key); it != words.end()) {
                items.push_back({i, len, it->second});
                used = len;
                break;
            }
        }
        i += used;
    }
    return items;
}

double sign(double v) { return v > 0 ? 1 : v < 0 ? -1 : 0; }

}  // namespace

LexiconScorer::LexiconScorer() = default;

std::filesystem::path LexiconScorer::default_dir() {
    if (const char* env = std::getenv("PRICECAST_SENTIMENT_LEXICON_DIR"); env && *env) return env;
    return std::filesystem::path(PRICECAST_DATA_FILES_DIR) / "sentiment";
}

LexiconScorer LexiconScorer::load(const std::filesystem::path& dir) {
    auto d = std::make_shared<Data>();
    load_file(dir / "afinn-165-financialmarketnews.tsv", false, d->words);
    load_file(dir / "finance-rules.tsv", true, d->words);  // ours overrides AFINN
    LexiconScorer s;
    s.data_ = std::move(d);
    return s;
}

std::size_t LexiconScorer::entries() const { return data_->words.size(); }

Sentiment LexiconScorer::score(std::string_view text) const {
    const auto tokens = tokenize(text);
    const auto items = match(data_->words, tokens);
    const bool shouting = std::all_of(tokens.begin(), tokens.end(), [](const Token& t) { return t.all_caps; });

    std::size_t contrast_at = SIZE_MAX;
    for (const auto& it : items)
        if (it.entry.role == Role::contrast) contrast_at = it.pos;
    std::vector<bool> consumed(items.size(), false);  // bad metrics a direction word already used

    double sum = 0;
    for (std::size_t k = 0; k < items.size(); ++k) {
        const Entry& e = items[k].entry;
        if (e.role == Role::up || e.role == Role::down) {
            for (std::size_t j = 0; j < items.size(); ++j) {
                const auto dist = static_cast<long>(items[j].pos) - static_cast<long>(items[k].pos);
                if (items[j].entry.role == Role::bad && !consumed[j] && std::abs(dist) <= kMetricWindow) {
                    consumed[j] = true;
                    consumed[k] = true;  // marks the flip
                    break;
                }
            }
        }
    }
    for (std::size_t k = 0; k < items.size(); ++k) {
        const Item& it = items[k];
        const Role r = it.entry.role;
        double v = it.entry.valence;
        if (r == Role::bad && consumed[k]) continue;
        if ((r == Role::up || r == Role::down) && consumed[k]) v = r == Role::up ? -std::max(1.5, std::abs(v)) : std::max(1.5, std::abs(v));
        if (v == 0) continue;
        if (tokens[it.pos].all_caps && !shouting) v += sign(v) * kCapsBoost;
        // Modifiers in the few tokens before the item.
        bool negated = false;
        for (const auto& m : items) {
            if (m.pos >= it.pos || it.pos - m.pos > kModifierWindow) continue;
            const double fade = 1.0 - 0.05 * static_cast<double>(it.pos - m.pos - 1);
            if (m.entry.role == Role::intensifier) v += sign(v) * kBooster * fade;
            if (m.entry.role == Role::dampener) v -= sign(v) * kBooster * fade;
            if (m.entry.role == Role::negation) negated = true;
        }
        for (std::size_t p = it.pos >= kModifierWindow ? it.pos - kModifierWindow : 0; p < it.pos; ++p)
            if (tokens[p].text.ends_with("n't") || tokens[p].text == "cant" || tokens[p].text == "dont") negated = true;
        if (negated) v *= kNegation;
        if (contrast_at != SIZE_MAX) v *= it.pos < contrast_at ? 0.5 : 1.5;
        sum += v;
    }
    const auto bangs = std::min<std::size_t>(4, static_cast<std::size_t>(std::count(text.begin(), text.end(), '!')));
    sum += sign(sum) * kExclamation * static_cast<double>(bangs);

    Sentiment s;
    s.score = sum / std::sqrt(sum * sum + kAlpha);
    const double a = std::abs(s.score);
    s.label = a < kNeutralBand ? Label::neutral : s.score > 0 ? Label::positive : Label::negative;
    s.confidence = a < kNeutralBand ? 1.0 - a / kNeutralBand : a;
    return s;
}

}  // namespace pricecast::sentiment
