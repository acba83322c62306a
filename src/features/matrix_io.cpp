// The feature matrix on disk: CSV for people and other tools, a binary format
// for fast reloads (training reads it many times).
//
// Binary layout, host-endian:
//   "PCFEATS1"  u32 version(1)  u64 schema hash  u32 columns  {u32 len, bytes}*
//   u32 symbols {u32 len, bytes}*  u64 rows
//   rows x { u32 symbol index, i64 close time ns, f64 close, f64 values[columns] }
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "core/input_file.hpp"
#include "features/features.hpp"

namespace pricecast::features {
namespace {

constexpr char kMagic[8] = {'P', 'C', 'F', 'E', 'A', 'T', 'S', '1'};
constexpr std::uint32_t kVersion = 1;

template <class T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_string(std::string& out, std::string_view s) {
    put(out, static_cast<std::uint32_t>(s.size()));
    out.append(s);
}

class Cursor {
public:
    Cursor(std::string_view bytes, const std::filesystem::path& path) : rest_(bytes), path_(path) {}
    template <class T>
    T get(const char* what) {
        if (rest_.size() < sizeof(T)) fail(std::string("truncated at ") + what);
        T v;
        std::memcpy(&v, rest_.data(), sizeof v);
        rest_.remove_prefix(sizeof v);
        return v;
    }
    std::string get_string(const char* what) {
        const auto n = get<std::uint32_t>(what);
        if (rest_.size() < n) fail(std::string("truncated at ") + what);
        std::string s(rest_.substr(0, n));
        rest_.remove_prefix(n);
        return s;
    }
    std::string_view take(std::size_t n, const char* what) {
        if (rest_.size() < n) fail(std::string("truncated at ") + what);
        auto s = rest_.substr(0, n);
        rest_.remove_prefix(n);
        return s;
    }
    bool done() const { return rest_.empty(); }
    [[noreturn]] void fail(const std::string& why) const {
        throw std::runtime_error(path_.string() + ": not a readable feature matrix: " + why);
    }

private:
    std::string_view rest_;
    const std::filesystem::path& path_;
};

}  // namespace

void write_csv(std::ostream& out, const FeatureSchema& schema, std::span<const FeatureVector> rows) {
    out << "symbol,close_time,close";
    for (const auto& c : schema.columns()) out << ",\"" << c.name << '"';
    out << '\n';
    for (const auto& r : rows) {
        out << r.symbol << ',' << format_iso8601(r.close_time) << ',' << fmt::format("{}", r.close);
        for (double v : r.values) {
            out << ',';
            if (std::isfinite(v)) out << fmt::format("{}", v);  // shortest text that reads back exactly
        }
        out << '\n';
    }
}

void write_binary(const std::filesystem::path& path, const FeatureSchema& schema,
                  std::span<const FeatureVector> rows) {
    std::string buf(kMagic, sizeof kMagic);
    put(buf, kVersion);
    put(buf, schema.hash());
    put(buf, static_cast<std::uint32_t>(schema.size()));
    for (const auto& c : schema.columns()) put_string(buf, c.name);
    std::map<std::string, std::uint32_t> index;
    std::vector<std::string> names;
    for (const auto& r : rows)
        if (index.emplace(r.symbol, static_cast<std::uint32_t>(names.size())).second) names.push_back(r.symbol);
    put(buf, static_cast<std::uint32_t>(names.size()));
    for (const auto& n : names) put_string(buf, n);
    put(buf, static_cast<std::uint64_t>(rows.size()));
    for (const auto& r : rows) {
        if (r.values.size() != schema.size())
            throw std::invalid_argument(fmt::format("feature row for {} has {} values, schema has {}", r.symbol,
                                                    r.values.size(), schema.size()));
        put(buf, index[r.symbol]);
        put(buf, r.close_time);
        put(buf, r.close);
        buf.append(reinterpret_cast<const char*>(r.values.data()), r.values.size() * sizeof(double));
    }
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(path.string() + ": cannot open for writing");
    f.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (!f) throw std::runtime_error(path.string() + ": write failed");
}

FeatureMatrix read_binary(const std::filesystem::path& path) {
    auto f = open_input(path);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    Cursor in(bytes, path);
    if (std::memcmp(in.take(sizeof kMagic, "magic").data(), kMagic, sizeof kMagic) != 0)
        in.fail("wrong magic (not written by `pricecast features build`)");
    if (auto v = in.get<std::uint32_t>("version"); v != kVersion) in.fail(fmt::format("unsupported version {}", v));
    FeatureMatrix m;
    m.schema_hash = in.get<std::uint64_t>("schema hash");
    const auto ncols = in.get<std::uint32_t>("column count");
    for (std::uint32_t i = 0; i < ncols; ++i) m.columns.push_back(in.get_string("column names"));
    std::vector<std::string> names(in.get<std::uint32_t>("symbol count"));
    for (auto& n : names) n = in.get_string("symbol names");
    const auto rows = in.get<std::uint64_t>("row count");
    const std::size_t row_bytes = 4 + 8 + 8 + ncols * sizeof(double);
    if (bytes.size() / row_bytes < rows) in.fail(fmt::format("header says {} rows, file is shorter", rows));
    m.values.resize(rows * ncols);
    for (std::uint64_t r = 0; r < rows; ++r) {
        const auto sym = in.get<std::uint32_t>("row symbol");
        if (sym >= names.size()) in.fail(fmt::format("row {} names symbol #{} of {}", r, sym, names.size()));
        m.symbols.push_back(names[sym]);
        m.times.push_back(in.get<std::int64_t>("row time"));
        m.closes.push_back(in.get<double>("row close"));
        std::memcpy(m.values.data() + r * ncols, in.take(ncols * sizeof(double), "row values").data(),
                    ncols * sizeof(double));
    }
    if (!in.done()) in.fail("trailing bytes after the last row");
    return m;
}

FeatureMatrix to_matrix(const FeatureSchema& schema, std::span<const FeatureVector> rows) {
    FeatureMatrix m;
    for (const auto& c : schema.columns()) m.columns.push_back(c.name);
    m.schema_hash = schema.hash();
    m.values.reserve(rows.size() * schema.size());
    for (const auto& r : rows) {
        m.symbols.push_back(r.symbol);
        m.times.push_back(r.close_time);
        m.closes.push_back(r.close);
        m.values.insert(m.values.end(), r.values.begin(), r.values.end());
    }
    return m;
}

}  // namespace pricecast::features
