#include <cctype>

#include <fmt/format.h>

#include "core/text.hpp"
#include "sentiment/sentiment.hpp"

namespace pricecast::sentiment {

std::string_view to_string(Label l) {
    switch (l) {
        case Label::negative: return "negative";
        case Label::neutral: return "neutral";
        case Label::positive: return "positive";
    }
    return "?";
}

std::optional<Label> parse_label(std::string_view text) {
    for (Label l : {Label::negative, Label::neutral, Label::positive})
        if (text == to_string(l)) return l;
    return std::nullopt;
}

Sentiment SentimentScorer::score(const NewsItem& item) const {
    if (item.body.empty() || item.body == item.headline) return score(item.headline);
    return score(item.headline + ". " + item.body);
}

namespace {

bool word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

}  // namespace

std::vector<Token> tokenize(std::string_view text) {
    std::vector<Token> out;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '%') {
            out.push_back({"%", false});
            ++i;
            continue;
        }
        if (!word_byte(c)) {
            ++i;
            continue;
        }
        // A word: letters and digits, with inner ' - . , joining word bytes (don't, cover-up, 5.2, 1,000).
        std::size_t j = i;
        while (j < text.size()) {
            const auto d = static_cast<unsigned char>(text[j]);
            if (word_byte(d)) {
                ++j;
            } else if ((d == '\'' || d == '-' || d == '.' || d == ',') && j + 1 < text.size() &&
                       word_byte(static_cast<unsigned char>(text[j + 1])) && j > i) {
                const bool numeric_join = d == '.' || d == ',';
                if (numeric_join && !(std::isdigit(static_cast<unsigned char>(text[j - 1])) &&
                                      std::isdigit(static_cast<unsigned char>(text[j + 1]))))
                    break;
                j += 2;
            } else {
                break;
            }
        }
        std::string_view w = text.substr(i, j - i);
        Token t;
        bool digits = false, letters = 0, upper = true;
        int nletters = 0;
        for (unsigned char ch : w) {
            if (std::isdigit(ch)) digits = true;
            if (std::isalpha(ch)) {
                letters = true;
                ++nletters;
                upper = upper && std::isupper(ch);
            }
            t.text += static_cast<char>(std::tolower(ch));
        }
        if (digits && !letters) t.text = "<num>";
        t.all_caps = nletters >= 2 && upper;
        out.push_back(std::move(t));
        i = j;
    }
    return out;
}

std::optional<std::string> check_text(std::string_view text) {
    if (is_blank(text)) return std::string("empty text");
    if (auto at = invalid_utf8_at(text)) return fmt::format("invalid UTF-8 at byte {}", *at);
    return std::nullopt;
}

}  // namespace pricecast::sentiment
