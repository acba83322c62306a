// pricecast indicators list | compute
#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "data/ohlcv.hpp"
#include "indicators/indicator.hpp"

namespace pricecast::cli {
namespace {

std::string format_default(const indicators::ParamSpec& p) {
    return p.integer ? fmt::format("{}", static_cast<long long>(p.default_value)) : fmt::format("{}", p.default_value);
}

constexpr std::size_t kParamsWidth = 44;

// The items joined by commas, broken after a comma into lines of at most
// `width` characters (an item longer than that gets a line of its own), so
// that long parameter lists (SAREXT, MACDEXT) stay inside their column.
std::vector<std::string> wrap(const std::vector<std::string>& items, std::size_t width) {
    std::vector<std::string> lines(1);
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string item = items[i] + (i + 1 < items.size() ? "," : "");
        if (!lines.back().empty() && lines.back().size() + item.size() > width) lines.emplace_back();
        lines.back() += item;
    }
    return lines;
}

std::string join(const std::vector<std::string>& items) {
    std::string r;
    for (const auto& item : items) r += (r.empty() ? "" : ",") + item;
    return r;
}

// The groups that hold indicators, in the registry's order.
std::vector<std::string> groups() {
    std::vector<std::string> out;
    for (const auto& s : indicators::registry())
        if (std::find(out.begin(), out.end(), indicators::to_string(s.group)) == out.end())
            out.emplace_back(indicators::to_string(s.group));
    return out;
}

void list(const std::string& group, bool names_only) {
    if (const auto valid = groups(); !group.empty() && std::find(valid.begin(), valid.end(), group) == valid.end())
        throw UsageError(fmt::format("--group: '{}' is not a group; groups: {}", group, join(valid)));
    const std::string row = "{:<22} {:<10} {:<" + std::to_string(kParamsWidth) + "} {:<30} {}\n";
    if (!names_only)
        std::cout << fmt::format(fmt::runtime(row), "name", "group", "parameters (defaults)", "outputs", "lookback");
    for (const auto& s : indicators::registry()) {
        if (!group.empty() && indicators::to_string(s.group) != group) continue;
        if (names_only) {
            std::cout << s.name << "\n";
            continue;
        }
        std::vector<std::string> params;
        for (const auto& p : s.params) params.push_back(p.name + "=" + format_default(p));
        const auto lines = wrap(params, kParamsWidth);
        std::cout << fmt::format(fmt::runtime(row), s.name, indicators::to_string(s.group), lines[0], join(s.outputs),
                                 indicators::parse(s.name).make()->lookback());
        for (std::size_t i = 1; i < lines.size(); ++i)
            std::cout << fmt::format("{:<22} {:<10} {}\n", "", "", lines[i]);
    }
}

std::string format_value(double v, bool integer) {
    if (std::isnan(v)) return "";
    return integer ? fmt::format("{}", static_cast<long long>(v)) : fmt::format("{}", v);
}

void compute(const std::string& prices, const std::vector<std::string>& refs, const std::string& out_path) {
    std::vector<indicators::IndicatorRef> parsed;
    try {
        for (const auto& r : refs) parsed.push_back(indicators::parse(r));
    } catch (const indicators::IndicatorError& e) {
        throw UsageError(e.what());
    }
    const data::BarFile file = data::read_bar_file(prices);
    // Rows are still written for the valid bars, so the caller gets them; the status says some were not.
    if (!file.report.clean()) {
        std::cerr << fmt::format("{}: {} bars rejected, left out of the computation\n", prices, file.report.rejected());
        for (const auto& line : data::describe_problems(file.report)) std::cerr << "  " << line << "\n";
        exit_code() = 2;
    }
    std::ofstream file_out;
    if (!out_path.empty()) {
        file_out.open(out_path);
        if (!file_out) throw UsageError("cannot write " + out_path);
    }
    std::ostream& out = out_path.empty() ? std::cout : file_out;

    indicators::IndicatorSet set;  // as the feature engine runs them
    out << "time";
    for (const auto& r : parsed) {
        set.add(r);
        const auto& outs = r.spec->outputs;
        const std::string base = indicators::IndicatorRef{r.spec, r.params, -1}.canonical();
        for (std::size_t k = 0; k < outs.size(); ++k)
            if (r.output < 0 || r.output == static_cast<int>(k))
                out << "," << (outs.size() == 1 ? base : base + "." + outs[k]);
    }
    out << "\n";
    std::string line;
    for (const Bar& b : file.bars) {
        line = format_iso8601(b.open_time);
        set.update(b);
        for (std::size_t j = 0; j < set.size(); ++j) {
            const auto v = set[j].values();
            for (std::size_t k = 0; k < v.size(); ++k)
                if (parsed[j].output < 0 || parsed[j].output == static_cast<int>(k)) {
                    line += ',';
                    if (set[j].ready()) line += format_value(v[k], parsed[j].spec->integer_output);
                }
        }
        out << line << "\n";
    }
}

}  // namespace

void add_indicators_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("indicators", "list the streaming indicators and compute them over a price file");
    cmd->require_subcommand(1);
    static CommonOptions common;

    auto* ls = cmd->add_subcommand("list", "print every indicator: name, group, parameters with defaults, outputs, lookback");
    static std::string group;
    static bool names_only = false;
    ls->add_option("--group", group, "only this group (" + join(groups()) + ")");
    ls->add_flag("--names", names_only, "print names only");
    add_common_options(*ls, common);
    ls->callback([] { list(group, names_only); });

    auto* comp = cmd->add_subcommand(
        "compute",
        "compute indicators over an OHLCV file and write a CSV: a time column, then one column per output, "
        "empty before the indicator's lookback.\nRejected bars (see `pricecast data check`) are left out, so the "
        "indicators run over the remaining bars as if they were consecutive; each reason is reported on stderr with "
        "its first line numbers and the exit status is 2.\nExample: pricecast indicators compute --prices eth.json "
        "'rsi(14)' 'macd(12,26,9)' 'bbands(20,2,2).upperband'");
    static std::string prices, out;
    static std::vector<std::string> refs;
    comp->add_option("--prices", prices, "OHLCV file (CSV or JSON array, see `pricecast data check`)")->required();
    comp->add_option("indicator", refs, "indicator references, TA-Lib names and parameter order: rsi(14), "
                                        "stoch(5,3,0,3,0), bbands(20,2,2).upperband")
        ->required();
    comp->add_option("--out", out, "output CSV file (default: standard output)");
    add_common_options(*comp, common);
    comp->callback([] { compute(prices, refs, out); });
}

}  // namespace pricecast::cli
