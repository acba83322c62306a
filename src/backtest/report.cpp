#include "backtest/report.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pricecast::backtest {
namespace {

constexpr const char* kNames[] = {"DOWN", "STABLE", "UP"};
constexpr const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"};
constexpr double kW = 800, kH = 260;

std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '&') out += "&amp;";
        else if (c == '"') out += "&quot;";
        else out += c;
    }
    return out;
}

std::string class_name(int c) { return c == kUnknown ? "" : kNames[c]; }

nlohmann::json run_json(const TradingResult& r) {
    return {{"total_return", r.total_return}, {"sharpe", r.sharpe},     {"max_drawdown", r.max_drawdown},
            {"hit_rate", r.hit_rate},         {"turnover", r.turnover}, {"equity", r.equity}};
}

nlohmann::json blocks_json(const std::vector<BlockSummary>& blocks) {
    auto j = nlohmann::json::array();
    for (const auto& b : blocks)
        j.push_back({{"block", b.index + 1}, {"from", format_iso8601(b.from)}, {"to", format_iso8601(b.to)},
                     {"train", b.train}, {"valid", b.valid}, {"predicted", b.predicted}, {"labeled", b.labeled},
                     {"accuracy", b.accuracy}, {"majority_accuracy", b.majority_accuracy},
                     {"persistence_accuracy", b.persistence_accuracy}});
    return j;
}

nlohmann::json report_json(const Result& r) {
    nlohmann::json classes;
    for (std::size_t c = 0; c < 3; ++c)
        classes[kNames[c]] = {{"precision", r.report.precision[c]}, {"recall", r.report.recall[c]},
                              {"f1", r.report.f1[c]}, {"support", r.report.support[c]}};
    nlohmann::json trading;
    for (const auto& s : r.trading)
        for (const auto& run : s.runs) trading[s.symbol][run.name] = run_json(run.result);
    auto calibration = nlohmann::json::array();
    for (std::size_t b = 0; b < r.calibration.size(); ++b)
        calibration.push_back({{"bin", {b / 10.0, (b + 1) / 10.0}}, {"confidence", r.calibration[b].confidence},
                               {"accuracy", r.calibration[b].accuracy}, {"count", r.calibration[b].count}});
    const auto& c = r.config;
    return {{"config", {{"min_train", c.min_train}, {"retrain_every", c.retrain_every}, {"horizon", c.horizon},
                        {"valid_fraction", c.valid_fraction}, {"short_on_down", c.trading.short_on_down},
                        {"fee_bps", c.trading.fee_bps}, {"slippage_bps", c.trading.slippage_bps}}},
            {"predicted", r.predictions.size()},
            {"labeled", r.report.support[0] + r.report.support[1] + r.report.support[2]},
            {"accuracy", r.report.accuracy},
            {"macro_f1", r.report.macro_f1},
            {"majority_accuracy", accuracy(r.majority_confusion)},
            {"persistence_accuracy", accuracy(r.persistence_confusion)},
            {"classification_report", classes},
            {"confusion", r.confusion},
            {"blocks", blocks_json(r.blocks)},
            {"trading", trading},
            {"rolling_accuracy", {{"window", r.rolling_window}, {"values", r.rolling_accuracy}}},
            {"calibration", calibration}};
}

struct Series {
    std::string name;
    std::vector<double> values;
};

// Polylines on one y scale, a legend under the plot, the scale's ends at the
// left and the time span under the plot.
std::string line_chart(const std::string& id, const std::vector<Series>& series, Timestamp from, Timestamp to) {
    double lo = 1e300, hi = -1e300;
    std::size_t n = 2;
    for (const auto& s : series) {
        for (double v : s.values) lo = std::min(lo, v), hi = std::max(hi, v);
        n = std::max(n, s.values.size());
    }
    if (lo > hi) lo = 0, hi = 1;
    const double span = hi > lo ? hi - lo : 1;
    std::ostringstream svg;
    svg << fmt::format(R"(<svg id="{}" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}">)", id, kW + 60,
                       kH + 20 * series.size() + 10);
    svg << fmt::format(R"(<rect x="60" y="0" width="{}" height="{}" fill="none" stroke="#ccc"/>)", kW, kH);
    svg << fmt::format(R"(<text x="0" y="12">{:.4g}</text><text x="0" y="{}">{:.4g}</text>)", hi, kH, lo);
    svg << fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{} .. {}</text>)", kW + 60, kH + 18, format_iso8601(from),
                       format_iso8601(to));
    for (std::size_t k = 0; k < series.size(); ++k) {
        const char* colour = kColours[k % 4];
        svg << R"(<polyline fill="none" stroke=")" << colour << R"(" points=")";
        const auto& v = series[k].values;
        for (std::size_t i = 0; i < v.size(); ++i)
            svg << fmt::format("{:.1f},{:.1f} ", 60 + kW * static_cast<double>(i) / static_cast<double>(n - 1),
                               kH - kH * (v[i] - lo) / span);
        svg << R"("/>)"
            << fmt::format(R"(<text x="60" y="{}" fill="{}">{}</text>)", kH + 18 + 20 * k, colour, series[k].name);
    }
    return svg.str() + "</svg>";
}

// Reliability diagram: observed accuracy against mean confidence per bin, with the diagonal.
std::string calibration_chart(const std::vector<CalibrationBin>& bins) {
    constexpr double S = 300;
    std::ostringstream svg;
    svg << fmt::format(R"(<svg id="calibration" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}">)", S + 40, S + 30);
    svg << fmt::format(R"(<rect x="30" y="0" width="{0}" height="{0}" fill="none" stroke="#ccc"/>)", S);
    svg << fmt::format(R"(<line x1="30" y1="{0}" x2="{1}" y2="0" stroke="#999" stroke-dasharray="4"/>)", S, S + 30);
    svg << fmt::format(R"(<text x="30" y="{}">confidence 0 .. 1</text><text x="0" y="12">1</text>)", S + 20);
    for (const auto& b : bins) {
        if (b.count == 0) continue;
        svg << fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="{:.1f}" fill="#1f77b4"><title>{} predictions: )"
                           R"(confidence {:.3f}, accuracy {:.3f}</title></circle>)",
                           30 + S * b.confidence, S - S * b.accuracy, std::min(12.0, 3 + static_cast<double>(b.count) / 50),
                           b.count, b.confidence, b.accuracy);
    }
    return svg.str() + "</svg>";
}

std::string trading_section(const SymbolTrading& s) {
    std::vector<Series> curves;
    for (const auto& run : s.runs) curves.push_back({run.name, run.result.equity});
    std::ostringstream h;
    h << "<h3>" << escape(s.symbol) << "</h3>" << line_chart("equity-" + escape(s.symbol), curves, s.from, s.to)
      << "<table><tr><th>run</th><th>total return</th><th>Sharpe</th><th>max drawdown</th><th>hit rate</th>"
      << "<th>turnover</th></tr>";
    for (const auto& run : s.runs) {
        const auto& r = run.result;
        h << fmt::format("<tr><td>{}</td><td>{:+.4f}</td><td>{:.3f}</td><td>{:.4f}</td><td>{:.3f}</td><td>{:.0f}</td></tr>",
                         run.name, r.total_return, r.sharpe, r.max_drawdown, r.hit_rate, r.turnover);
    }
    return h.str() + "</table>";
}

std::string classification_section(const Result& r) {
    std::ostringstream h;
    h << "<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>";
    for (std::size_t c = 0; c < 3; ++c)
        h << fmt::format("<tr><td>{}</td><td>{:.3f}</td><td>{:.3f}</td><td>{:.3f}</td><td>{}</td></tr>", kNames[c],
                         r.report.precision[c], r.report.recall[c], r.report.f1[c], r.report.support[c]);
    h << fmt::format("</table><p>accuracy {:.4f}, macro-F1 {:.4f}; majority {:.4f}, persistence {:.4f} on the same bars</p>",
                     r.report.accuracy, r.report.macro_f1, accuracy(r.majority_confusion),
                     accuracy(r.persistence_confusion));
    h << "<h3>Confusion matrix (rows actual, columns predicted)</h3><table id=\"confusion\"><tr><th></th>";
    long most = 1;
    for (const auto& row : r.confusion) most = std::max(most, *std::max_element(row.begin(), row.end()));
    for (const char* c : kNames) h << "<th>" << c << "</th>";
    h << "</tr>";
    for (std::size_t a = 0; a < 3; ++a) {
        h << "<tr><th>" << kNames[a] << "</th>";
        for (std::size_t p = 0; p < 3; ++p)
            h << fmt::format(R"x(<td style="background: rgba(31,119,180,{:.2f})">{}</td>)x",
                             static_cast<double>(r.confusion[a][p]) / static_cast<double>(most) * 0.8, r.confusion[a][p]);
        h << "</tr>";
    }
    return h.str() + "</table>";
}

std::string blocks_section(const std::vector<BlockSummary>& blocks) {
    std::ostringstream h;
    h << "<table><tr><th>block</th><th>from</th><th>to</th><th>train</th><th>valid</th><th>predicted</th>"
      << "<th>accuracy</th><th>majority</th><th>persistence</th></tr>";
    for (const auto& b : blocks)
        h << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3f}</td>"
                         "<td>{:.3f}</td><td>{:.3f}</td></tr>",
                         b.index + 1, format_iso8601(b.from), format_iso8601(b.to), b.train, b.valid, b.predicted,
                         b.accuracy, b.majority_accuracy, b.persistence_accuracy);
    return h.str() + "</table>";
}

std::string html(const Result& r) {
    std::ostringstream h;
    h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>pricecast backtest</title><style>"
      << "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
      << "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style></head><body>"
      << fmt::format("<h1>Walk-forward backtest</h1><p>{} predictions in {} blocks, retrained every {} bars after {} bars "
                     "of history; label horizon {} bars; {}; fees {} bps, slippage {} bps; fills at the next bar's open.</p>",
                     r.predictions.size(), r.blocks.size(), r.config.retrain_every, r.config.min_train, r.config.horizon,
                     r.config.trading.short_on_down ? "long/short" : "long/flat", r.config.trading.fee_bps,
                     r.config.trading.slippage_bps)
      << "<h2>Equity</h2>";
    for (const auto& s : r.trading) h << trading_section(s);
    h << "<h2>Classification</h2>" << classification_section(r)
      << fmt::format("<h2>Rolling accuracy (last {} labeled predictions)</h2>", r.rolling_window)
      << line_chart("rolling-accuracy", {{"model", r.rolling_accuracy}}, r.predictions.empty() ? 0 : r.predictions.front().time,
                    r.predictions.empty() ? 0 : r.predictions.back().time)
      << "<h2>Calibration (top-class probability against how often it was right)</h2>" << calibration_chart(r.calibration)
      << "<h2>Per block</h2>" << blocks_section(r.blocks) << "</body></html>\n";
    return h.str();
}

std::string predictions_csv(const std::vector<RowPrediction>& predictions) {
    std::ostringstream out;
    out << "time,symbol,class,p_down,p_stable,p_up,actual,block\n";
    for (const auto& p : predictions)
        out << fmt::format("{},{},{},{},{},{},{},{}\n", format_iso8601(p.time), p.symbol, class_name(p.cls), p.probs[0],
                           p.probs[1], p.probs[2], class_name(p.actual), p.block + 1);
    return out.str();
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    if (!out) throw BacktestError("out: cannot write " + path.string());
}

}  // namespace

void write_report(const std::filesystem::path& dir, const Result& result) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw BacktestError("out: cannot create " + dir.string() + ": " + ec.message());
    write_file(dir / "report.json", report_json(result).dump(2));
    write_file(dir / "report.html", html(result));
    write_file(dir / "predictions.csv", predictions_csv(result.predictions));
}

}  // namespace pricecast::backtest
