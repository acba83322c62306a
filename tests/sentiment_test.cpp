// Sentiment scorers: text handling, the lexicon rules, readers and their errors,
// metrics against scikit-learn, the classifier artifact, and the goals on
// Financial PhraseBank (lexicon with no training; classifier by 10-fold CV).
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sentiment/sentiment.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace pricecast::sentiment {
namespace {

namespace fs = std::filesystem;

const LexiconScorer& lexicon() {
    static const LexiconScorer s = LexiconScorer::load();
    return s;
}

double score(std::string_view text) { return lexicon().score(text).score; }

// Into one folder for the whole run, removed when the process exits.
fs::path temp_file(const std::string& name, const std::string& bytes) {
    static const test::TempDir dir("sentiment");
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
}

std::string error_of(auto&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "no error";
}

TEST(SentimentText, Tokenize) {
    const auto t = tokenize("Don't panic: EBIT rose 5.2 % to EUR 1,000 mn, a cover-up!");
    std::vector<std::string> words;
    for (const auto& x : t) words.push_back(x.text);
    EXPECT_EQ(words, (std::vector<std::string>{"don't", "panic", "ebit", "rose", "<num>", "%", "to", "eur", "<num>",
                                               "mn", "a", "cover-up"}));
    EXPECT_TRUE(t[2].all_caps);
    EXPECT_FALSE(t[0].all_caps);
}

TEST(SentimentText, CheckTextNamesTheProblem) {
    EXPECT_EQ(check_text("fine"), std::nullopt);
    EXPECT_EQ(check_text("Nokia päivitys"), std::nullopt);
    EXPECT_EQ(check_text(" \t\n"), "empty text");
    EXPECT_EQ(check_text("ab\xff"), "invalid UTF-8 at byte 2");
    EXPECT_EQ(check_text("x\xc0\xaf"), "invalid UTF-8 at byte 1") << "overlong encoding";
    EXPECT_EQ(check_text("\xed\xa0\x80"), "invalid UTF-8 at byte 0") << "surrogate";
    EXPECT_EQ(check_text("ab\xc3"), "invalid UTF-8 at byte 2") << "truncated sequence";
}

TEST(LexiconRules, EachRuleMovesTheScoreTheRightWay) {
    EXPECT_GT(score("a good quarter"), 0);
    EXPECT_LT(score("not a good quarter"), 0) << "negation within the window flips";
    EXPECT_GT(score("a very good quarter"), score("a good quarter")) << "intensifier";
    EXPECT_LT(score("a slightly good quarter"), score("a good quarter")) << "dampener";
    EXPECT_LT(score("results were good but the outlook is weak"), 0) << "the clause after 'but' weighs more";
    EXPECT_GT(score("results were weak but the outlook is good"), 0);
    EXPECT_GT(score("the quarter was GOOD for us"), score("the quarter was good for us")) << "caps emphasis";
    EXPECT_GT(score("a good quarter!!"), score("a good quarter")) << "exclamation emphasis";
    EXPECT_EQ(score("the board met on Tuesday"), 0);
}

TEST(LexiconRules, DirectionWordsFlipOnBadMetrics) {
    EXPECT_GT(score("Net sales increased by 5 %"), 0);
    EXPECT_LT(score("Net sales decreased by 5 %"), 0);
    EXPECT_GT(score("Operating loss narrowed to EUR 2 mn"), 0);
    EXPECT_LT(score("The operating loss widened to EUR 9 mn"), 0);
    EXPECT_GT(score("Costs fell sharply"), 0);
    EXPECT_LT(score("Costs rose"), 0);
    EXPECT_EQ(score("Operating profit was EUR 3 mn"), 0) << "a business noun alone says nothing";
    EXPECT_LT(score("The company issued a profit warning"), 0) << "phrases match before their words";
}

TEST(LexiconRules, LabelsAndConfidenceAreConsistent) {
    for (const char* text : {"great results", "terrible losses", "the meeting is on Monday"}) {
        const auto s = lexicon().score(text);
        EXPECT_GE(s.score, -1);
        EXPECT_LE(s.score, 1);
        EXPECT_GE(s.confidence, 0);
        EXPECT_LE(s.confidence, 1);
        EXPECT_EQ(s.label, s.score > 0.29 ? Label::positive : s.score < -0.29 ? Label::negative : Label::neutral);
    }
    NewsItem n;
    n.headline = "ACME";
    n.body = "ACME beats estimates";
    EXPECT_GT(lexicon().score(n).score, 0) << "headline and body are scored together";
}

TEST(LexiconFiles, MissingOrBadFilesAreClearErrors) {
    EXPECT_GT(lexicon().entries(), 3500u);
    const auto missing = error_of([] { LexiconScorer::load("/nonexistent-dir"); });
    EXPECT_NE(missing.find("afinn-165-financialmarketnews.tsv"), std::string::npos) << missing;
    const auto dir = temp_file("afinn-165-financialmarketnews.tsv", "# comment\ngood\t3\nbad\tminus two\n").parent_path();
    temp_file("finance-rules.tsv", "");
    const auto bad = error_of([&] { LexiconScorer::load(dir); });
    EXPECT_NE(bad.find("afinn-165-financialmarketnews.tsv:3"), std::string::npos) << bad;
    temp_file("afinn-165-financialmarketnews.tsv", "good\t3\n");
    temp_file("finance-rules.tsv", "rose\t1\tsideways\n");
    const auto role = error_of([&] { LexiconScorer::load(dir); });
    EXPECT_NE(role.find("finance-rules.tsv:1: unknown role 'sideways'"), std::string::npos) << role;
}

// ---- readers -----------------------------------------------------------------------------

TEST(LabeledData, PhraseBankInLatin1AndUtf8) {
    const auto latin1 = read_labeled(temp_file("pb-latin1.txt", "Kone 's sales rose in M\xe4ntt\xe4 .@positive\nIt met .@neutral\n"));
    ASSERT_EQ(latin1.size(), 2u);
    EXPECT_EQ(latin1[0].text, "Kone 's sales rose in M\xc3\xa4ntt\xc3\xa4 .");
    EXPECT_EQ(latin1[0].label, Label::positive);
    const auto utf8 = read_labeled(temp_file("pb-utf8.txt", "Sales fell in M\xc3\xa4ntt\xc3\xa4 , a lot.@negative\n"));
    EXPECT_EQ(utf8[0].text, "Sales fell in M\xc3\xa4ntt\xc3\xa4 , a lot.");
    const auto bad = error_of([] { read_labeled(temp_file("pb-bad.txt", "ok@neutral\nno label here\n")); });
    EXPECT_NE(bad.find("pb-bad.txt:2: expected sentence@label"), std::string::npos) << bad;
    const auto label = error_of([] { read_labeled(temp_file("pb-label.txt", "ok@neutral\nhm@happy\n")); });
    EXPECT_NE(label.find(":2: label 'happy'"), std::string::npos) << label;
}

TEST(LabeledData, CsvWithQuotingAndItsErrors) {
    const auto rows = read_labeled(temp_file("l.csv", "id,text,label\n1,\"Profit rose, \"\"sharply\"\"\",positive\n2,Flat,neutral\n"));
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].text, "Profit rose, \"sharply\"");
    const auto header = error_of([] { read_labeled(temp_file("h.csv", "sentence_id,mood\n1,positive\n")); });
    EXPECT_NE(header.find("h.csv:1: header needs a 'text' and a 'label' column"), std::string::npos) << header;
    const auto label = error_of([] { read_labeled(temp_file("b.csv", "text,label\nfine,neutral\nhm,great\n")); });
    EXPECT_NE(label.find("b.csv:3: label 'great'"), std::string::npos) << label;
    const auto utf8 = error_of([] { read_labeled(temp_file("u.csv", "text,label\n\"bad \xff\",neutral\n")); });
    EXPECT_NE(utf8.find("u.csv:2: text: invalid UTF-8 at byte 4"), std::string::npos) << utf8;
    const auto empty = error_of([] { read_labeled(temp_file("e.csv", "text,label\n\"  \",neutral\n")); });
    EXPECT_NE(empty.find("e.csv:2: text: empty text"), std::string::npos) << empty;
}

// ---- metrics -----------------------------------------------------------------------------

TEST(SentimentMetrics, MatchScikitLearn) {
    std::ifstream f(test::test_data() / "sentiment_metrics_golden.json");
    ASSERT_TRUE(f) << "tests/data/sentiment_metrics_golden.json (tests/oracles/sentiment_metrics.py)";
    const auto golden = nlohmann::json::parse(f);
    ASSERT_EQ(golden.size(), 4u);
    for (const auto& g : golden) {
        std::vector<Label> truth, pred;
        for (int t : g["truth"]) truth.push_back(static_cast<Label>(t));
        for (int p : g["pred"]) pred.push_back(static_cast<Label>(p));
        const auto r = evaluate(truth, pred);
        EXPECT_NEAR(r.accuracy, g["accuracy"].get<double>(), 1e-12);
        EXPECT_NEAR(r.macro_f1, g["macro_f1"].get<double>(), 1e-12);
        for (std::size_t c = 0; c < kLabels; ++c) {
            EXPECT_NEAR(r.precision[c], g["precision"][c].get<double>(), 1e-12);
            EXPECT_NEAR(r.recall[c], g["recall"][c].get<double>(), 1e-12);
            EXPECT_NEAR(r.f1[c], g["f1"][c].get<double>(), 1e-12);
            for (std::size_t k = 0; k < kLabels; ++k) EXPECT_EQ(r.confusion[c][k], g["confusion"][c][k].get<std::size_t>());
        }
    }
}

// ---- classifier ----------------------------------------------------------------------------

std::vector<LabeledText> toy() {
    std::vector<LabeledText> d;
    for (int i = 0; i < 30; ++i) {
        d.push_back({"sales rose strongly in quarter " + std::to_string(i), Label::positive});
        d.push_back({"sales fell sharply in quarter " + std::to_string(i), Label::negative});
        d.push_back({"the meeting is held in quarter " + std::to_string(i), Label::neutral});
    }
    return d;
}

TEST(LogisticScorer, LearnsSavesAndLoadsExactly) {
    LogisticOptions o;
    o.hash_bits = 12;
    const auto m = LogisticScorer::train(toy(), o);
    EXPECT_EQ(m.score("sales rose strongly").label, Label::positive);
    EXPECT_EQ(m.score("sales fell sharply").label, Label::negative);
    EXPECT_EQ(m.score("the meeting is held").label, Label::neutral);
    const auto path = temp_file("model.bin", "");
    m.save(path);
    const auto back = LogisticScorer::load(path);
    for (const char* t : {"sales rose", "sales fell in the meeting", "unknown words only"})
        EXPECT_EQ(m.probabilities(t), back.probabilities(t)) << t;
    EXPECT_EQ(back.info()["training"]["sentences"], 90);
    EXPECT_EQ(LogisticScorer::train(toy(), o).probabilities("sales rose"), m.probabilities("sales rose"))
        << "same data and seed, same model";

    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 4);
    EXPECT_NE(error_of([&] { LogisticScorer::load(path); }).find("truncated weights"), std::string::npos);
    const auto junk = temp_file("junk.bin", "{\"format\":\"something-else\"}\n");
    EXPECT_NE(error_of([&] { LogisticScorer::load(junk); }).find("not a sentiment model artifact"), std::string::npos);
}

// ---- the goals on Financial PhraseBank ----------------------------------------------------------

constexpr const char* kAllAgree = "sentiment/financial_phrasebank/Sentences_AllAgree.txt";

TEST(PhraseBank, LexiconMeetsItsGoalWithoutTraining) {
    PRICECAST_REQUIRE_SHARED(kAllAgree);
    const auto data = read_labeled(test::shared_data() / kAllAgree);
    ASSERT_EQ(data.size(), 2264u);
    const auto r = evaluate(lexicon(), data);
    std::printf("lexicon on AllAgree: accuracy %.4f macro-F1 %.4f\n", r.accuracy, r.macro_f1);
    EXPECT_GE(r.macro_f1, 0.65);
}

TEST(PhraseBank, ClassifierMeetsItsGoalInTenFoldCrossValidation) {
    PRICECAST_REQUIRE_SHARED(kAllAgree);
    const auto data = read_labeled(test::shared_data() / kAllAgree);
    const auto r = cross_validate(data, 10);
    std::printf("classifier, 10-fold CV on AllAgree: accuracy %.4f macro-F1 %.4f\n", r.accuracy, r.macro_f1);
    EXPECT_EQ(r.n, data.size()) << "every sentence scored exactly once, by a model that never saw it";
    EXPECT_GE(r.macro_f1, 0.85);
}

TEST(PhraseBank, Latin1FilesReadCleanly) {
    constexpr const char* k50 = "sentiment/financial_phrasebank/Sentences_50Agree.txt";
    PRICECAST_REQUIRE_SHARED(k50);
    const auto data = read_labeled(test::shared_data() / k50);
    EXPECT_EQ(data.size(), 4846u);
    for (const auto& d : data) ASSERT_EQ(check_text(d.text), std::nullopt) << d.text;
}

}  // namespace
}  // namespace pricecast::sentiment
