// Sentiment scoring cost per headline, lexicon + rules and the classifier, on
// Financial PhraseBank sentences (or a few synthetic headlines when absent).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>

#include "sentiment/sentiment.hpp"
#include "support/paths.hpp"

namespace st = pricecast::sentiment;

namespace {

const std::vector<st::LabeledText>& sentences() {
    static const auto s = [] {
        const auto path = pricecast::test::shared_data() / "sentiment/financial_phrasebank/Sentences_AllAgree.txt";
        if (std::filesystem::exists(path)) return st::read_labeled(path);
        std::fprintf(stderr, "note: %s absent, using synthetic headlines\n", path.c_str());
        return std::vector<st::LabeledText>{{"ACME beats estimates as sales rose 5 %", st::Label::positive},
                                            {"Operating loss widened to EUR 9 mn", st::Label::negative},
                                            {"The annual meeting is held on Monday", st::Label::neutral}};
    }();
    return s;
}

void run(benchmark::State& state, const st::SentimentScorer& scorer) {
    double sum = 0;
    for (auto _ : state)
        for (const auto& s : sentences()) sum += scorer.score(s.text).score;
    benchmark::DoNotOptimize(sum);
    state.counters["us_per_headline"] = benchmark::Counter(
        static_cast<double>(sentences().size()), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void lexicon(benchmark::State& state) {
    static const auto s = st::LexiconScorer::load();
    run(state, s);
}

void classifier(benchmark::State& state) {
    static const auto s = st::LogisticScorer::train(sentences());
    run(state, s);
}

}  // namespace

BENCHMARK(lexicon)->Unit(benchmark::kMillisecond);
BENCHMARK(classifier)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
