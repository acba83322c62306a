// pricecast features schema | build
#include <algorithm>
#include <cmath>
#include <memory>
#include <fstream>
#include <iostream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/progress.hpp"
#include "data/news.hpp"
#include "data/ohlcv.hpp"
#include "features/features.hpp"
#include "sentiment/sentiment.hpp"

namespace pricecast::cli {
namespace {

struct FeatureOptions {
    std::vector<std::string> timeframes, indicators, windows;
    std::string lateness;
    CLI::Option *timeframes_flag = nullptr, *indicators_flag = nullptr, *windows_flag = nullptr, *lateness_flag = nullptr;
};

// Flags override the [features] keys of the configuration.
features::FeatureConfig feature_config(const FeatureOptions& o, CommonOptions& common) {
    const Config& cfg = common.config();
    features::FeatureConfig c;
    c.timeframes = flag_or_config(o.timeframes_flag, o.timeframes, [&] { return cfg.strings("features.timeframes"); });
    auto refs = flag_or_config(o.indicators_flag, o.indicators, [&] { return cfg.strings("features.indicators"); });
    if (!refs.empty()) c.indicators = std::move(refs);
    c.sentiment_windows = flag_or_config(o.windows_flag, o.windows, [&] { return cfg.strings("features.sentiment_windows"); });
    c.lateness = flag_or_config(o.lateness_flag, o.lateness, [&] { return cfg.string("features.lateness"); });
    c.symbols = cfg.strings("features.symbols");
    return c;
}

features::Pipeline make_pipeline(features::FeatureConfig c) {
    try {
        return features::Pipeline(std::move(c));
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
}

void add_feature_options(CLI::App& cmd, FeatureOptions& o) {
    o.timeframes_flag =
        cmd.add_option("--timeframes", o.timeframes, "timeframes, shortest (the base bars) first; default: from the bars' interval (1m bars: 1m,5m,1h)")
            ->delimiter(',');
    o.indicators_flag = cmd.add_option("--indicators", o.indicators,
                                       "indicator references replacing the default set, separated by ';': 'rsi(14)' "
                                       "on every timeframe, '5m:rsi(14)' on one")
                            ->delimiter(';');
    o.windows_flag = cmd.add_option("--sentiment-windows", o.windows, "event-time sentiment windows; default 10m,1h")
                         ->delimiter(',');
    o.lateness_flag = cmd.add_option("--lateness", o.lateness, "how late a message may arrive and still count; default 1m");
}

const char* kind_name(features::ColumnKind k) {
    switch (k) {
        case features::ColumnKind::indicator: return "indicator";
        case features::ColumnKind::derived: return "derived";
        case features::ColumnKind::sentiment: return "sentiment";
        case features::ColumnKind::interaction: return "interaction";
    }
    return "?";
}

void schema(const FeatureOptions& o, CommonOptions& common, bool json) {
    const auto p = make_pipeline(feature_config(o, common));
    const auto& s = p.schema();
    if (json) {
        nlohmann::json cols = nlohmann::json::array();
        for (const auto& c : s.columns())
            cols.push_back({{"name", c.name}, {"kind", kind_name(c.kind)}, {"timeframe", c.timeframe},
                            {"source", c.source}, {"type", c.integer ? "int" : "real"}});
        std::cout << nlohmann::json{{"hash", s.hash_hex()}, {"columns", cols}}.dump(2) << "\n";
        return;
    }
    std::cout << fmt::format("schema {}  ({} columns)\n", s.hash_hex(), s.size());
    std::cout << fmt::format("{:>4}  {:<44} {:<12} {:<6} {}\n", "#", "name", "kind", "type", "timeframe");
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto& c = s.columns()[i];
        std::cout << fmt::format("{:>4}  {:<44} {:<12} {:<6} {}\n", i, c.name, kind_name(c.kind),
                                 c.integer ? "int" : "real", c.timeframe);
    }
}

// Timeframes, windows and folds are counted in bars of the file's interval,
// which the reader infers from the steps between bar times.
void require_interval(const std::string& f, const data::BarFile& file) {
    if (!file.bars.empty() && file.bars.front().interval <= 0)
        throw UsageError(fmt::format("{}: too few bars to infer the bar interval ({} valid; it needs at least two "
                                     "with distinct times among the first records)",
                                     f, file.bars.size()));
}

std::vector<Bar> read_prices(const std::vector<std::string>& files) {
    std::vector<Bar> bars;
    for (const auto& f : files) {
        const auto file = data::read_bar_file(f);
        // The work goes on with the valid bars, so the caller gets them; the status says some were not.
        if (!file.report.clean()) {
            std::cerr << (file.report.rejected() > 0
                              ? fmt::format("{}: {} bars rejected, left out\n", f, file.report.rejected())
                              : fmt::format("{}: read up to where the file breaks\n", f));
            for (const auto& line : data::describe_problems(file.report)) std::cerr << "  " << line << "\n";
            exit_code() = 2;
        }
        require_interval(f, file);
        bars.insert(bars.end(), file.bars.begin(), file.bars.end());
    }
    return bars;
}

// News without a score gets one from the lexicon scorer, or from a trained
// classifier artifact; items with a score keep it.
void score_news(std::vector<NewsItem>& news, const std::string& model, CommonOptions& common) {
    if (std::none_of(news.begin(), news.end(), [](const NewsItem& n) { return std::isnan(n.sentiment); })) return;
    const auto scorer = make_sentiment_scorer(model, common);
    for (auto& n : news)
        if (std::isnan(n.sentiment) && !sentiment::check_text(n.headline + n.body)) n.sentiment = scorer->score(n).score;
}

std::vector<NewsItem> read_news(const std::string& path) {
    if (path.empty()) return {};
    data::NewsFile file = data::read_news_file(path);
    for (std::size_t i = 0; i < std::min<std::size_t>(file.rejected.size(), 5); ++i)
        std::cerr << fmt::format("{}:{}: {}\n", path, file.rejected[i].line, file.rejected[i].reason);
    if (file.rejected.size() > 5) std::cerr << fmt::format("{}: {} more rejected\n", path, file.rejected.size() - 5);
    if (!file.rejected.empty()) exit_code() = 2;
    return std::move(file.items);
}

// Without --timeframes: the bars' own interval and two longer ones, so that a
// file of 5-minute or daily bars works without options.
std::vector<std::string> timeframes_for(Duration base) {
    if (base == kMinute) return features::FeatureConfig{}.timeframes;
    std::vector<std::string> tfs = {format_duration(base)};
    for (Duration d : {5 * kMinute, 15 * kMinute, kHour, 4 * kHour, 24 * kHour, 7 * 24 * kHour})
        if (tfs.size() < 3 && d >= 3 * base && d % base == 0) tfs.push_back(format_duration(d));
    std::cerr << fmt::format("timeframes: {} (from the bars' interval; --timeframes to choose)\n", fmt::join(tfs, ","));
    return tfs;
}

// What a build reads: the configuration completed from the bars, its schema, the bars and the scored news.
struct BuildInputs {
    features::FeatureConfig config;
    features::FeatureSchema schema;
    std::vector<Bar> bars;
    std::vector<NewsItem> news;
};

// The pipeline reads bars of its base timeframe only: with another, every bar
// would be dropped as "not a bar of the base timeframe" and nothing built.
void require_base_timeframe(const features::FeatureConfig& cfg, Duration interval, const FeatureOptions& o,
                            CommonOptions& common) {
    if (cfg.timeframes.empty() || parse_duration(cfg.timeframes.front()) == interval) return;
    const bool by_flag = o.timeframes_flag && o.timeframes_flag->count() > 0;
    const std::string where =
        by_flag ? "--timeframes" : "features.timeframes, " + common.config().source("features.timeframes");
    throw UsageError(fmt::format("--prices: the bars are {} apart, but the base timeframe is {} ({}); the first "
                                 "timeframe must be the bars' own (leave it unset to derive it from them)",
                                 format_duration(interval), cfg.timeframes.front(), where));
}

BuildInputs read_inputs(const FeatureOptions& o, CommonOptions& common, const std::vector<std::string>& prices,
                        const std::string& news_path, const std::string& sentiment_model) {
    BuildInputs in{feature_config(o, common), {}, read_prices(prices), {}};
    if (in.bars.empty()) throw UsageError("--prices: no valid bars");
    if ((!o.timeframes_flag || o.timeframes_flag->count() == 0) &&
        common.config().source("features.timeframes") == "default")
        in.config.timeframes = timeframes_for(in.bars.front().interval);
    require_base_timeframe(in.config, in.bars.front().interval, o, common);
    std::set<std::string> symbols;
    for (const auto& b : in.bars) symbols.insert(b.symbol);
    in.config.symbols.assign(symbols.begin(), symbols.end());
    in.schema = make_pipeline(in.config).schema();  // validates the configuration before the work starts
    in.news = read_news(news_path);
    score_news(in.news, sentiment_model, common);
    return in;
}

// Each vector to `sink` as the pipeline makes it, with progress on a terminal.
features::PipelineStats run_build(const BuildInputs& in, const features::VectorSink& sink) {
    Progress progress("features", in.bars.size() + in.news.size(), "messages");
    const auto stats =
        features::build(in.config, in.bars, in.news, sink, [&](std::size_t done, std::size_t) { progress.update(done); });
    progress.finish();
    return stats;
}

// Rows go to the file as they are made, so a long history's matrix is never in memory.
void build(const FeatureOptions& o, CommonOptions& common, const std::vector<std::string>& prices,
           const std::string& news_path, const std::string& sentiment_model, const std::string& out, std::string format) {
    const auto in = read_inputs(o, common, prices, news_path, sentiment_model);
    const auto& schema = in.schema;
    if (format.empty()) format = out.ends_with(".csv") ? "csv" : "bin";
    std::unique_ptr<features::MatrixWriter> file;
    try {
        file = std::make_unique<features::MatrixWriter>(
            out, format == "csv" ? features::MatrixWriter::Format::csv : features::MatrixWriter::Format::binary,
            schema, in.config.symbols);
    } catch (const std::runtime_error& e) {
        throw UsageError(fmt::format("--out: {}", e.what()));
    }
    auto& writer = *file;
    std::uint64_t complete = 0;
    const auto stats = run_build(in, [&](const features::FeatureVector& v) {
        writer.write(v);
        complete += v.complete;
    });
    writer.close();
    std::cerr << fmt::format("{}: {} rows ({} complete) x {} columns, schema {}; {} bars, {} news in\n", out,
                             writer.rows(), complete, schema.size(), schema.hash_hex(), stats.bars_in, stats.news_in);
    for (std::size_t r = 0; r < features::kRejectionKinds; ++r)
        if (stats.rejected[r] > 0)
            std::cerr << fmt::format("  rejected {}: {}\n", stats.rejected[r],
                                     features::to_string(static_cast<features::Rejection>(r)));
}

}  // namespace

// Appended row by row: the matrix is the only copy held.
features::FeatureMatrix feature_matrix_from_files(CommonOptions& common, const std::vector<std::string>& prices,
                                                  const std::string& news, const std::string& sentiment_model) {
    const auto in = read_inputs(FeatureOptions{}, common, prices, news, sentiment_model);
    auto m = features::empty_matrix(in.schema);
    run_build(in, [&](const features::FeatureVector& v) { features::append_row(m, v); });
    return m;
}

void add_features_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("features", "the feature pipeline: schema and batch builds of the feature matrix");
    cmd->require_subcommand(1);
    static CommonOptions common;
    // One set per subcommand: the flag pointers tell whether a flag was given.
    static FeatureOptions schema_fo, build_fo;

    auto* sch = cmd->add_subcommand("schema", "print the feature columns in order and the schema hash models are tied to");
    static bool json = false;
    sch->add_flag("--json", json, "machine-readable output");
    add_feature_options(*sch, schema_fo);
    add_common_options(*sch, common);
    sch->callback([] { schema(schema_fo, common, json); });

    auto* b = cmd->add_subcommand(
        "build",
        "compute the feature matrix over price files (and news) with the same pipeline the live service runs.\n"
        "News without a sentiment score is scored (lexicon, or --sentiment-model); rejected records are counted by reason.\n"
        "Example: pricecast features build --prices eth-1m.csv --news news.jsonl --out features.bin");
    static std::vector<std::string> prices;
    static std::string news, out, format, sentiment_model;
    b->add_option("--prices", prices, "OHLCV files of the base timeframe, one symbol each (repeatable)")->required();
    b->add_option("--news", news, "news file: JSON lines or CSV, fields in README.md, \"News and labeled sentences\"");
    b->add_option("--sentiment-model", sentiment_model,
                  "classifier artifact (`sentiment train`) that scores news without a score; default: sentiment.model "
                  "in --config, else the lexicon");
    b->add_option("--out", out, "output file: .csv, otherwise the binary matrix format")->required();
    b->add_option("--format", format, "csv or bin (default: from the --out extension)")
        ->check(CLI::IsMember({"csv", "bin"}));
    add_feature_options(*b, build_fo);
    add_common_options(*b, common);
    b->callback([] { build(build_fo, common, prices, news, sentiment_model, out, format); });
}

}  // namespace pricecast::cli
