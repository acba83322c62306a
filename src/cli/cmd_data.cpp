// pricecast data check FILE, pricecast data resample FILE --to 5m
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "data/aggregate.hpp"
#include "data/ohlcv.hpp"

namespace pricecast::cli {
namespace {

std::string join_lines(const std::vector<std::size_t>& lines) {
    std::string s;
    for (auto l : lines) {
        if (!s.empty()) s += ", ";
        s += std::to_string(l);
    }
    return s;
}

void check(const std::string& path, bool json) {
    data::BarFile f;
    try {
        f = data::read_bar_file(path);
    } catch (const data::DataError& e) {
        throw UsageError(e.what());
    }
    const auto& r = f.report;
    if (json) {
        nlohmann::json j;
        j["file"] = path;
        j["records"] = r.records;
        j["accepted"] = r.accepted;
        j["reversed"] = r.reversed;
        for (const auto& [reason, n] : r.counts)
            j["rejected"][std::string(data::to_string(reason))] = {{"count", n}, {"first_lines", r.first_lines.at(reason)}};
        if (!f.bars.empty()) {
            j["first"] = format_iso8601(f.bars.front().open_time);
            j["last"] = format_iso8601(f.bars.back().open_time);
            j["interval"] = format_duration(f.bars.front().interval);
        }
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << fmt::format("{}: {} records, {} accepted, {} rejected\n", path, r.records, r.accepted, r.rejected());
        if (r.reversed) std::cout << "  notice: newest-first file, read in reverse\n";
        if (!f.bars.empty())
            std::cout << fmt::format("  range {} .. {}, interval {}\n", format_iso8601(f.bars.front().open_time),
                                     format_iso8601(f.bars.back().open_time), format_duration(f.bars.front().interval));
        for (const auto& [reason, n] : r.counts)
            std::cout << fmt::format("  {:<26} {:>8}   first at line {}\n", data::to_string(reason), n,
                                     join_lines(r.first_lines.at(reason)));
    }
    if (r.rejected() > 0) exit_code() = 2;
}

void resample(const std::string& path, const std::string& to, const std::string& out_path) {
    const auto interval = parse_duration(to);
    if (!interval || *interval <= 0) throw UsageError(fmt::format("--to: '{}' is not a duration (e.g. 5m, 1h)", to));
    data::BarFile f;
    try {
        f = data::read_bar_file(path);
    } catch (const data::DataError& e) {
        throw UsageError(e.what());
    }
    if (f.report.rejected() > 0)
        std::cerr << fmt::format("{}: {} records rejected (see 'pricecast data check')\n", path, f.report.rejected());
    std::vector<Bar> bars;
    for (auto& a : data::aggregate(f.bars, *interval)) bars.push_back(std::move(a.bar));
    if (out_path.empty()) {
        data::write_bars_csv(std::cout, bars);
        return;
    }
    std::ofstream out(out_path);
    if (!out) throw UsageError(fmt::format("{}: cannot open for writing", out_path));
    data::write_bars_csv(out, bars);
}

}  // namespace

void add_data_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("data", "inspect market data files");
    cmd->require_subcommand(1);
    static CommonOptions common;
    auto* chk = cmd->add_subcommand(
        "check",
        "validate an OHLCV file (CSV with a header, or a JSON array of [time,open,high,low,close,volume]): "
        "prints counts per rejection reason with the first offending line numbers; exits 2 if any record is "
        "rejected or the file cannot be read");
    static std::string file;
    static bool json = false;
    chk->add_option("file", file, "OHLCV file")->required();
    chk->add_flag("--json", json, "print the report as JSON");
    add_common_options(*chk, common);
    chk->callback([] { check(file, json); });

    auto* rs = cmd->add_subcommand(
        "resample",
        "aggregate an OHLCV file to a longer interval (UTC epoch-aligned buckets; first/max/min/last, summed "
        "volume; gaps produce no bar) and write CSV");
    static std::string rs_file, rs_to, rs_out;
    rs->add_option("file", rs_file, "OHLCV file")->required();
    rs->add_option("--to", rs_to, "target interval, a multiple of the source interval (e.g. 5m, 1h)")->required();
    rs->add_option("--out", rs_out, "output CSV (default: standard output)");
    add_common_options(*rs, common);
    rs->callback([] { resample(rs_file, rs_to, rs_out); });
}

}  // namespace pricecast::cli
