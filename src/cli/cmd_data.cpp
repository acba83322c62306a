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

// A file of fewer than two distinct times has no step to infer the interval from.
std::string interval_of(const data::BarFile& f) {
    const Duration d = f.bars.front().interval;
    return d > 0 ? format_duration(d) : "unknown (fewer than two distinct times)";
}

void print_json(const std::string& path, const data::BarFile& f) {
    const auto& r = f.report;
    nlohmann::json j;
    j["file"] = path;
    j["records"] = r.records;
    j["accepted"] = r.accepted;
    j["reversed"] = r.reversed;
    const char* positions = r.record_numbers ? "first_records" : "first_lines";
    for (const auto& [reason, n] : r.counts) {
        auto& entry = j["rejected"][std::string(data::to_string(reason))];
        entry = {{"count", n}, {positions, r.first_lines.at(reason)}};
        if (auto d = r.first_detail.find(reason); d != r.first_detail.end()) entry["first_detail"] = d->second;
    }
    if (!r.broken.empty()) j["broken"] = r.broken;
    if (!f.bars.empty()) {
        j["first"] = format_iso8601(f.bars.front().open_time);
        j["last"] = format_iso8601(f.bars.back().open_time);
        j["interval"] = f.bars.front().interval > 0 ? nlohmann::json(format_duration(f.bars.front().interval)) : nullptr;
    }
    std::cout << j.dump(2) << "\n";
}

void check(const std::string& path, bool json) {
    const auto f = data::read_bar_file(path);
    const auto& r = f.report;
    if (json) {
        print_json(path, f);
    } else {
        std::cout << fmt::format("{}: {} records, {} accepted, {} rejected\n", path, r.records, r.accepted, r.rejected());
        if (r.reversed) std::cout << "  notice: newest-first file, read in reverse\n";
        if (!f.bars.empty())
            std::cout << fmt::format("  range {} .. {}, interval {}\n", format_iso8601(f.bars.front().open_time),
                                     format_iso8601(f.bars.back().open_time), interval_of(f));
        for (const auto& line : data::describe_problems(r)) std::cout << "  " << line << "\n";
    }
    if (!r.clean()) exit_code() = 2;
}

// Buckets of --to must each hold whole source bars, or bars would straddle them.
void check_resample_interval(const std::string& path, const data::BarFile& f, const std::string& to, Duration interval) {
    if (f.bars.empty()) throw UsageError(path + ": no valid bars to resample");
    const Duration source = f.bars.front().interval;
    if (source <= 0)
        throw UsageError(fmt::format("{}: the source interval is unknown (fewer than two distinct times), so --to {} "
                                     "cannot be checked against it",
                                     path, to));
    if (interval % source != 0)
        throw UsageError(fmt::format("--to {}: not a multiple of the source interval {} of {}, so source bars would "
                                     "straddle the new bars",
                                     to, format_duration(source), path));
}

void resample(const std::string& path, const std::string& to, const std::string& out_path) {
    const auto interval = parse_duration(to);
    if (!interval || *interval <= 0) throw UsageError(fmt::format("--to: '{}' is not a duration (e.g. 5m, 1h)", to));
    const auto f = data::read_bar_file(path);
    check_resample_interval(path, f, to, *interval);
    if (!f.report.clean()) {
        std::cerr << fmt::format("{}: {} records rejected, resampled without them\n", path, f.report.rejected());
        for (const auto& line : data::describe_problems(f.report)) std::cerr << "  " << line << "\n";
        exit_code() = 2;
    }
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
        "prints counts per rejection reason with the first offending line numbers (record numbers for JSON); "
        "exits 2 if any record is rejected, the JSON is cut short or followed by other text, or the file cannot be "
        "read");
    static std::string file;
    static bool json = false;
    chk->add_option("file", file, "OHLCV file")->required();
    chk->add_flag("--json", json, "print the report as JSON");
    add_common_options(*chk, common);
    chk->callback([] { check(file, json); });

    auto* rs = cmd->add_subcommand(
        "resample",
        "aggregate an OHLCV file to a longer interval (UTC epoch-aligned buckets; first/max/min/last, summed "
        "volume; gaps produce no bar) and write CSV; rejected records are left out and reported on stderr, "
        "and then the exit status is 2");
    static std::string rs_file, rs_to, rs_out;
    rs->add_option("file", rs_file, "OHLCV file")->required();
    rs->add_option("--to", rs_to, "target interval, a multiple of the source interval (e.g. 5m, 1h)")->required();
    rs->add_option("--out", rs_out, "output CSV (default: standard output)");
    add_common_options(*rs, common);
    rs->callback([] { resample(rs_file, rs_to, rs_out); });
}

}  // namespace pricecast::cli
