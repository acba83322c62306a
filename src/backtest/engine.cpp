#include "backtest/engine.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace pricecast::backtest {
namespace {

std::vector<Timestamp> time_line(const std::vector<Bar>& bars) {
    std::vector<Timestamp> line;
    for (std::size_t i = 0; i < bars.size(); ++i) {
        if (i > 0 && bars[i].close_time < bars[i - 1].close_time)
            throw BacktestError(fmt::format("bars[{}].close_time: rows must be in time order", i));
        if (line.empty() || line.back() != bars[i].close_time) line.push_back(bars[i].close_time);
    }
    return line;
}

// Rows by position on the time line: [begin, end) of the line -> rows.
std::vector<std::size_t> rows_between(const std::vector<std::size_t>& line_index, std::size_t begin, std::size_t end) {
    const auto lo = std::lower_bound(line_index.begin(), line_index.end(), begin);
    const auto hi = std::lower_bound(line_index.begin(), line_index.end(), end);
    std::vector<std::size_t> rows(static_cast<std::size_t>(hi - lo));
    for (std::size_t k = 0; k < rows.size(); ++k) rows[k] = static_cast<std::size_t>(lo - line_index.begin()) + k;
    return rows;
}

// The validation tail is the last share of the training bars; the training part
// before it is purged by the horizon so no training label reads a validation bar.
BlockRows block_rows(const std::vector<std::size_t>& line_index, const Block& b, std::size_t index,
                     std::size_t count, const EngineConfig& cfg) {
    const auto valid_from = b.train_end - static_cast<std::size_t>(static_cast<double>(b.train_end) * cfg.valid_fraction);
    const auto train_to = valid_from == b.train_end ? valid_from : (valid_from > cfg.horizon ? valid_from - cfg.horizon : 0);
    return {index, count, rows_between(line_index, 0, train_to), rows_between(line_index, valid_from, b.train_end),
            rows_between(line_index, b.begin, b.end)};
}

int argmax(const Probs& p) { return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin()); }

void check_output(const BlockOutput& out, std::size_t rows, std::size_t block) {
    for (std::size_t n : {out.probs.size(), out.actual.size(), out.majority.size(), out.persistence.size()})
        if (n != rows) throw BacktestError(fmt::format("model: block {} returned {} values for {} rows", block + 1, n, rows));
}

double share_right(const std::vector<RowPrediction>& p, std::size_t from, int RowPrediction::* cls) {
    long right = 0, labeled = 0;
    for (std::size_t i = from; i < p.size(); ++i) {
        if (p[i].actual == kUnknown) continue;
        ++labeled;
        right += p[i].*cls == p[i].actual;
    }
    return labeled ? static_cast<double>(right) / static_cast<double>(labeled) : 0;
}

BlockSummary summarise_block(const BlockRows& rows, const std::vector<RowPrediction>& p, std::size_t from) {
    BlockSummary s;
    s.index = rows.index;
    s.train = rows.train.size();
    s.valid = rows.valid.size();
    s.predicted = p.size() - from;
    s.labeled = static_cast<std::size_t>(
        std::count_if(p.begin() + static_cast<std::ptrdiff_t>(from), p.end(), [](auto& r) { return r.actual != kUnknown; }));
    if (s.predicted > 0) s.from = p[from].time, s.to = p.back().time;
    s.accuracy = share_right(p, from, &RowPrediction::cls);
    s.majority_accuracy = share_right(p, from, &RowPrediction::majority);
    s.persistence_accuracy = share_right(p, from, &RowPrediction::persistence);
    return s;
}

ConfusionMatrix confusion_of(const std::vector<RowPrediction>& p, int RowPrediction::* cls) {
    std::vector<int> actual, predicted;
    for (const auto& r : p)
        if (r.actual != kUnknown) actual.push_back(r.actual), predicted.push_back(r.*cls);
    return confusion(actual, predicted);
}

std::vector<SymbolTrading> trade(const std::vector<Bar>& bars, const std::vector<std::size_t>& rows,
                                 const std::vector<RowPrediction>& p, const TradingConfig& cfg) {
    std::map<std::string, std::vector<std::size_t>> by_symbol;  // positions in p
    for (std::size_t i = 0; i < p.size(); ++i) by_symbol[p[i].symbol].push_back(i);
    std::vector<SymbolTrading> out;
    for (const auto& [symbol, idx] : by_symbol) {
        std::vector<Bar> b;
        std::vector<int> model, majority, persistence;
        for (auto i : idx) {
            b.push_back(bars[rows[i]]);
            model.push_back(p[i].cls);
            majority.push_back(p[i].majority);
            persistence.push_back(p[i].persistence);
        }
        out.push_back({symbol, p[idx.front()].time, p[idx.back()].time,
                       {{"model", simulate(b, model, cfg)},
                        {"buy_and_hold", simulate(b, buy_and_hold_signals(b.size()), cfg)},
                        {"majority", simulate(b, majority, cfg)},
                        {"persistence", simulate(b, persistence, cfg)}}});
    }
    return out;
}

// A window of a tenth of the labeled predictions, between 20 and 500.
void rolling(Result& r) {
    std::vector<int> right;
    for (const auto& p : r.predictions)
        if (p.actual != kUnknown) right.push_back(p.cls == p.actual);
    r.rolling_window = std::min(right.size(), std::clamp<std::size_t>(right.size() / 10, 20, 500));
    if (r.rolling_window == 0) return;
    long sum = 0;
    for (std::size_t k = 0; k < right.size(); ++k) {
        sum += right[k];
        if (k >= r.rolling_window) sum -= right[k - r.rolling_window];
        if (k + 1 >= r.rolling_window)
            r.rolling_accuracy.push_back(static_cast<double>(sum) / static_cast<double>(r.rolling_window));
    }
}

void calibrate(Result& r) {
    r.calibration.assign(10, {});
    for (const auto& p : r.predictions) {
        if (p.actual == kUnknown) continue;
        const double conf = p.probs[static_cast<std::size_t>(p.cls)];
        auto& bin = r.calibration[std::min<std::size_t>(9, static_cast<std::size_t>(conf * 10))];
        bin.confidence += conf;
        bin.accuracy += p.cls == p.actual;
        ++bin.count;
    }
    for (auto& bin : r.calibration)
        if (bin.count > 0) bin.confidence /= static_cast<double>(bin.count), bin.accuracy /= static_cast<double>(bin.count);
}

}  // namespace

ClassReport class_report(const ConfusionMatrix& m) {
    ClassReport r;
    for (std::size_t c = 0; c < 3; ++c) {
        long predicted = 0;
        for (std::size_t a = 0; a < 3; ++a) predicted += m[a][c], r.support[c] += m[c][a];
        const double tp = static_cast<double>(m[c][c]);
        r.precision[c] = predicted ? tp / static_cast<double>(predicted) : 0;
        r.recall[c] = r.support[c] ? tp / static_cast<double>(r.support[c]) : 0;
        const double sum = r.precision[c] + r.recall[c];
        r.f1[c] = sum > 0 ? 2 * r.precision[c] * r.recall[c] / sum : 0;
        r.macro_f1 += r.f1[c] / 3;
    }
    r.accuracy = accuracy(m);
    return r;
}

Result run(const std::vector<Bar>& bars, const EngineConfig& config, const BlockModel& model) {
    const auto line = time_line(bars);
    std::vector<std::size_t> line_index;  // per row, its position on the time line
    for (const auto& b : bars) line_index.push_back(static_cast<std::size_t>(
        std::lower_bound(line.begin(), line.end(), b.close_time) - line.begin()));
    const auto blocks = walk_forward_blocks(line.size(), config.min_train, config.retrain_every, config.horizon);
    Result r;
    r.config = config;
    std::vector<std::size_t> predicted_rows;
    for (std::size_t k = 0; k < blocks.size(); ++k) {
        const auto rows = block_rows(line_index, blocks[k], k, blocks.size(), config);
        const auto out = model(rows);
        check_output(out, rows.predict.size(), k);
        const std::size_t from = r.predictions.size();
        for (std::size_t i = 0; i < rows.predict.size(); ++i) {
            const auto& bar = bars[rows.predict[i]];
            r.predictions.push_back({bar.symbol, bar.close_time, k, out.probs[i], argmax(out.probs[i]), out.actual[i],
                                     out.majority[i], out.persistence[i]});
        }
        predicted_rows.insert(predicted_rows.end(), rows.predict.begin(), rows.predict.end());
        r.blocks.push_back(summarise_block(rows, r.predictions, from));
    }
    r.confusion = confusion_of(r.predictions, &RowPrediction::cls);
    r.majority_confusion = confusion_of(r.predictions, &RowPrediction::majority);
    r.persistence_confusion = confusion_of(r.predictions, &RowPrediction::persistence);
    r.report = class_report(r.confusion);
    r.trading = trade(bars, predicted_rows, r.predictions, config.trading);
    rolling(r);
    calibrate(r);
    return r;
}

}  // namespace pricecast::backtest
