// The feature pipeline: what every model sees, in training, backtests and live.
//
// One object, `Pipeline`, consumes base bars (1m by default) and scored news in
// any interleaving and emits one `FeatureVector` per closed base bar:
//
//   - per symbol, the base bars aggregated to the configured timeframes, with
//     the configured indicators (registry names, `5m:rsi(14)`) and the derived
//     features (returns, ratios, volatility, Bollinger width/position, ...);
//   - sentiment windows in event time, per symbol and market-wide;
//   - price x sentiment interactions.
//
// Event time and the watermark. The watermark is the highest bar close time
// seen (or clock time given to advance(); news times do not move it) minus the
// allowed lateness. A bar closing at
// t is held until the watermark passes t, then its vector is computed from the
// bars of its symbol up to t and the news with event time <= t. A message whose
// event time is already behind the watermark arrives too late: it is counted
// and dropped, and never changes a vector that was (or will be) emitted for an
// earlier bar. News that is late but within the lateness is applied exactly as
// if it had arrived on time, and news newer than a bar (event time > t) is never
// visible to it, so the output depends on the messages, not on their arrival
// order: a batch build over files and a live stream give the same vectors, bit
// for bit (the batch build is this same object fed in event-time order).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/state.hpp"
#include "core/time.hpp"
#include "core/types.hpp"

namespace pricecast::features {

struct FeatureConfig {
    // Timeframes, shortest first; the first is the base interval of the bars fed
    // in, the others are multiples of it.
    std::vector<std::string> timeframes = {"1m", "5m", "1h"};
    // Indicator references from the registry. A bare reference ("rsi(14)") is
    // computed on every timeframe; "5m:rsi(14)" on that timeframe only.
    std::vector<std::string> indicators = default_indicators();
    // Sentiment windows in event time, each for one symbol and market-wide.
    std::vector<std::string> sentiment_windows = {"10m", "1h"};
    // How late (in event time) a message may arrive and still be used.
    std::string lateness = "1m";
    // Symbols the pipeline accepts; empty = any symbol.
    std::vector<std::string> symbols;

    static std::vector<std::string> default_indicators();
};

enum class ColumnKind : std::uint8_t { indicator, derived, sentiment, interaction };

struct FeatureColumn {
    std::string name;       // "5m:rsi(14)", "1m:log_return(5)", "sent:10m:mean", ...
    ColumnKind kind = ColumnKind::indicator;
    std::string timeframe;  // "1m", ... ; the window ("10m") for sentiment columns
    std::string source;     // canonical indicator reference or derived-feature formula
    bool integer = false;   // candlestick patterns and counts
};

// Ordered feature columns; its hash identifies the layout a model was trained on.
class FeatureSchema {
public:
    FeatureSchema() = default;
    explicit FeatureSchema(std::vector<FeatureColumn> columns);
    const std::vector<FeatureColumn>& columns() const { return columns_; }
    std::size_t size() const { return columns_.size(); }
    // FNV-1a 64 over the canonical text: names, kinds, timeframes, sources.
    std::uint64_t hash() const { return hash_; }
    std::string hash_hex() const;
    // Index of a column by name; throws std::out_of_range when absent.
    std::size_t index(std::string_view name) const;

private:
    std::vector<FeatureColumn> columns_;
    std::uint64_t hash_ = 0;
};

// One row of the feature matrix. Values are NaN while an indicator warms up;
// `complete` is true once every value is finite.
struct FeatureVector {
    std::uint64_t schema_hash = 0;
    std::string symbol;
    Timestamp close_time = 0;  // close time of the base bar
    double close = 0;          // its close price (for labels downstream)
    std::vector<double> values;
    bool complete = false;
};

// Why an input message was not used.
enum class Rejection : std::uint8_t {
    late,            // event time behind the watermark
    missing_time,
    empty_text,
    invalid_utf8,
    unknown_symbol,
    unscored,        // news without a finite sentiment score in [-1, 1]
    bad_bar,         // fails check_bar
    wrong_interval,  // not a bar of the base timeframe
    out_of_order,    // a bar not after the previous bar of its symbol
    duplicate,       // the same news item (time, id, text, score) again: a redelivery
};
std::string_view to_string(Rejection r);
inline constexpr std::size_t kRejectionKinds = 10;

struct PipelineStats {
    std::uint64_t bars_in = 0, news_in = 0, vectors_out = 0;
    std::array<std::uint64_t, kRejectionKinds> rejected{};
    std::uint64_t rejected_total() const;
};

using VectorSink = std::function<void(const FeatureVector&)>;

class Pipeline {
public:
    // Throws std::invalid_argument naming the bad timeframe, indicator or window.
    explicit Pipeline(FeatureConfig config);
    ~Pipeline();
    Pipeline(Pipeline&&) noexcept;
    Pipeline& operator=(Pipeline&&) noexcept;

    const FeatureSchema& schema() const;
    const FeatureConfig& config() const;

    // Vectors are emitted to the sink in (close time, symbol) order as the
    // watermark passes their bars. Returns the rejection, if the message was not used.
    std::optional<Rejection> push(const Bar& base_bar, const VectorSink& sink);
    std::optional<Rejection> push(const NewsItem& scored_news, const VectorSink& sink);
    // Moves the watermark to `time` - lateness without a message (a live clock
    // tick), so bars are emitted when no later message arrives.
    void advance(Timestamp time, const VectorSink& sink);
    // End of input: emits every held bar.
    void finish(const VectorSink& sink);

    const PipelineStats& stats() const;
    Timestamp watermark() const;

    // The whole state (held bars, timeframe bars, indicators, news windows,
    // watermark, counters). restore() requires a pipeline with the same schema.
    std::string snapshot() const;
    void restore(std::string_view bytes);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Batch: the same Pipeline fed with bars and news merged in event time.
// `progress`, when set, is told (messages done, messages in all) as it goes.
using BuildProgress = std::function<void(std::size_t done, std::size_t total)>;
std::vector<FeatureVector> build(const FeatureConfig& config, std::span<const Bar> bars,
                                 std::span<const NewsItem> news, PipelineStats* stats = nullptr,
                                 const BuildProgress& progress = {});
// The same, each vector to `sink` as it is made, so a build of millions of
// rows need not hold them. Returns the pipeline's counters.
PipelineStats build(const FeatureConfig& config, std::span<const Bar> bars, std::span<const NewsItem> news,
                    const VectorSink& sink, const BuildProgress& progress = {});

// ---- the feature matrix on disk ---------------------------------------------

// CSV: symbol, close_time (ISO-8601), close, then one column per feature.
void write_csv(std::ostream& out, const FeatureSchema& schema, std::span<const FeatureVector> rows);
// Binary: a header (magic, version, schema hash, column names) then fixed-size
// rows; reloads with one read per row block.
void write_binary(const std::filesystem::path& path, const FeatureSchema& schema,
                  std::span<const FeatureVector> rows);

// Either format written a row at a time, as a build emits them: the matrix of
// a long history is never in memory. The binary header lists `symbols` (every
// row's symbol must be one) and gets its row count at close().
class MatrixWriter {
public:
    enum class Format { csv, binary };
    MatrixWriter(const std::filesystem::path& path, Format format, const FeatureSchema& schema,
                 std::vector<std::string> symbols);
    ~MatrixWriter();
    MatrixWriter(const MatrixWriter&) = delete;
    MatrixWriter& operator=(const MatrixWriter&) = delete;

    // Throws std::invalid_argument for a row of another width or symbol.
    void write(const FeatureVector& row);
    // Completes the file; throws std::runtime_error naming it when a write failed.
    void close();
    std::uint64_t rows() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct FeatureMatrix {
    std::vector<std::string> columns;
    std::uint64_t schema_hash = 0;
    std::vector<std::string> symbols;  // per row
    std::vector<Timestamp> times;      // per row
    std::vector<double> closes;        // per row
    std::vector<double> values;        // row-major, rows x columns
    std::size_t rows() const { return times.size(); }
};
// Throws std::runtime_error naming the file and what is wrong with it.
FeatureMatrix read_binary(const std::filesystem::path& path);
// The same matrix from vectors in memory.
FeatureMatrix to_matrix(const FeatureSchema& schema, std::span<const FeatureVector> rows);
// An empty matrix of the schema's columns, and one more row of it.
FeatureMatrix empty_matrix(const FeatureSchema& schema);
void append_row(FeatureMatrix& m, const FeatureVector& row);

}  // namespace pricecast::features
