#include "backtest/report.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pricecast::backtest {
namespace {

nlohmann::json run_json(const TradingResult& r) {
    return {{"total_return", r.total_return}, {"sharpe", r.sharpe},     {"max_drawdown", r.max_drawdown},
            {"hit_rate", r.hit_rate},         {"turnover", r.turnover}, {"equity", r.equity}};
}

// One polyline per run, all on a shared y scale so the curves compare.
std::string equity_svg(const std::vector<NamedRun>& runs) {
    constexpr double W = 800, H = 300;
    double lo = 1, hi = 1;
    std::size_t n = 2;
    for (const auto& run : runs) {
        for (double e : run.result.equity) lo = std::min(lo, e), hi = std::max(hi, e);
        n = std::max(n, run.result.equity.size());
    }
    const double span = hi > lo ? hi - lo : 1;
    static const char* colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"};
    std::ostringstream svg;
    svg << fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}">)", W, H + 20 * runs.size());
    for (std::size_t r = 0; r < runs.size(); ++r) {
        const auto& eq = runs[r].result.equity;
        const char* colour = colours[r % 4];
        svg << R"(<polyline fill="none" stroke=")" << colour << R"(" points=")";
        for (std::size_t k = 0; k < eq.size(); ++k)
            svg << fmt::format("{:.1f},{:.1f} ", W * static_cast<double>(k) / static_cast<double>(n - 1),
                               H - H * (eq[k] - lo) / span);
        svg << R"("/>)" << fmt::format(R"(<text x="5" y="{}" fill="{}">{}</text>)", H + 15 + 20 * r, colour,
                                       runs[r].name);
    }
    return svg.str() + "</svg>";
}

std::string html(const std::vector<NamedRun>& runs, const ConfusionMatrix& m) {
    static const char* names[] = {"DOWN", "STABLE", "UP"};
    std::ostringstream h;
    h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>pricecast backtest</title></head><body>"
      << "<h1>Backtest</h1><h2>Equity</h2>" << equity_svg(runs)
      << "<h2>Trading</h2><table border=\"1\"><tr><th>run</th><th>total return</th><th>Sharpe</th>"
      << "<th>max drawdown</th><th>hit rate</th><th>turnover</th></tr>";
    for (const auto& run : runs) {
        const auto& r = run.result;
        h << fmt::format("<tr><td>{}</td><td>{:.4f}</td><td>{:.3f}</td><td>{:.4f}</td><td>{:.3f}</td><td>{:.0f}</td></tr>",
                         run.name, r.total_return, r.sharpe, r.max_drawdown, r.hit_rate, r.turnover);
    }
    h << "</table><h2>Confusion matrix (rows actual, columns predicted)</h2><table border=\"1\"><tr><th></th>";
    for (const char* c : names) h << "<th>" << c << "</th>";
    h << "</tr>";
    for (std::size_t a = 0; a < 3; ++a) {
        h << "<tr><th>" << names[a] << "</th>";
        for (std::size_t p = 0; p < 3; ++p) h << "<td>" << m[a][p] << "</td>";
        h << "</tr>";
    }
    h << fmt::format("</table><p>accuracy {:.4f}</p></body></html>\n", accuracy(m));
    return h.str();
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    if (!out) throw BacktestError("out: cannot write " + path.string());
}

}  // namespace

void write_report(const std::filesystem::path& dir, const std::vector<NamedRun>& runs,
                  const ConfusionMatrix& confusion) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw BacktestError("out: cannot create " + dir.string() + ": " + ec.message());
    nlohmann::json j;
    for (const auto& run : runs) j["runs"][run.name] = run_json(run.result);
    j["confusion"] = confusion;
    j["accuracy"] = accuracy(confusion);
    write_file(dir / "report.json", j.dump(2));
    write_file(dir / "report.html", html(runs, confusion));
}

}  // namespace pricecast::backtest
