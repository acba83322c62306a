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
#include <set>
#include <utility>
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

void csv_header(std::ostream& out, const FeatureSchema& schema) {
    out << "symbol,close_time,close";
    for (const auto& c : schema.columns()) out << ",\"" << c.name << '"';
    out << '\n';
}

void csv_row(std::ostream& out, const FeatureVector& r) {
    out << r.symbol << ',' << format_iso8601(r.close_time) << ',' << fmt::format("{}", r.close);
    for (double v : r.values) {
        out << ',';
        if (std::isfinite(v)) out << fmt::format("{}", v);  // shortest text that reads back exactly
    }
    out << '\n';
}

// Reads the header's fields from the file; a short read names what was cut.
class Cursor {
public:
    Cursor(std::istream& in, const std::filesystem::path& path)
        : in_(in), path_(path), size_(std::filesystem::file_size(path)) {}
    template <class T>
    T get(const char* what) {
        T v;
        read(reinterpret_cast<char*>(&v), sizeof v, what);
        return v;
    }
    std::string get_string(const char* what) {
        const auto n = get<std::uint32_t>(what);
        // A corrupt length must not size a string beyond the file.
        if (n > size_ - static_cast<std::uintmax_t>(in_.tellg())) fail(std::string("truncated at ") + what);
        std::string s(n, '\0');
        read(s.data(), s.size(), what);
        return s;
    }
    void read(char* to, std::size_t n, const char* what) {
        if (!in_.read(to, static_cast<std::streamsize>(n))) fail(std::string("truncated at ") + what);
    }
    bool done() { return in_.peek() == std::char_traits<char>::eof(); }
    std::uintmax_t size() const { return size_; }
    [[noreturn]] void fail(const std::string& why) const {
        throw std::runtime_error(path_.string() + ": not a readable feature matrix: " + why);
    }

private:
    std::istream& in_;
    const std::filesystem::path& path_;
    std::uintmax_t size_;
};

}  // namespace

// The rows go to `partial` beside the file, renamed to it by close(): a
// build that stops half way leaves no file that looks whole.
struct MatrixWriter::Impl {
    std::filesystem::path path, partial;
    Format format;
    std::size_t columns;
    std::map<std::string, std::uint32_t, std::less<>> index;  // symbol -> its number in the header
    std::ofstream out;
    std::streamoff row_count_at = 0;
    std::uint64_t rows = 0;
    std::string buf;
    bool closed = false;

    void check_written() const {
        if (!out) throw std::runtime_error(path.string() + ": write failed");
    }
    ~Impl() {
        if (closed) return;
        out.close();
        std::error_code ec;
        std::filesystem::remove(partial, ec);
    }
};

MatrixWriter::MatrixWriter(const std::filesystem::path& path, Format format, const FeatureSchema& schema,
                           std::vector<std::string> symbols)
    : impl_(std::make_unique<Impl>()) {
    auto& m = *impl_;
    m.path = path;
    m.partial = path.string() + ".partial";
    m.format = format;
    m.columns = schema.size();
    m.out.open(m.partial, std::ios::binary | std::ios::trunc);
    if (!m.out) throw std::runtime_error(path.string() + ": cannot open for writing");
    if (format == Format::csv) {
        csv_header(m.out, schema);
        return;
    }
    std::string head(kMagic, sizeof kMagic);
    put(head, kVersion);
    put(head, schema.hash());
    put(head, static_cast<std::uint32_t>(schema.size()));
    for (const auto& c : schema.columns()) put_string(head, c.name);
    put(head, static_cast<std::uint32_t>(symbols.size()));
    for (const auto& n : symbols) {
        put_string(head, n);
        m.index.emplace(n, static_cast<std::uint32_t>(m.index.size()));
    }
    m.row_count_at = static_cast<std::streamoff>(head.size());
    put(head, std::uint64_t{0});  // the row count, known at close()
    m.out.write(head.data(), static_cast<std::streamsize>(head.size()));
}

MatrixWriter::~MatrixWriter() = default;

std::uint64_t MatrixWriter::rows() const noexcept { return impl_->rows; }

void MatrixWriter::write(const FeatureVector& r) {
    auto& m = *impl_;
    if (r.values.size() != m.columns)
        throw std::invalid_argument(fmt::format("feature row for {} has {} values, schema has {}", r.symbol,
                                                r.values.size(), m.columns));
    ++m.rows;
    if (m.format == Format::csv) return csv_row(m.out, r);
    const auto sym = m.index.find(r.symbol);
    if (sym == m.index.end())
        throw std::invalid_argument(fmt::format("feature row for {}: not a symbol of this file", r.symbol));
    m.buf.clear();
    put(m.buf, sym->second);
    put(m.buf, r.close_time);
    put(m.buf, r.close);
    m.buf.append(reinterpret_cast<const char*>(r.values.data()), r.values.size() * sizeof(double));
    m.out.write(m.buf.data(), static_cast<std::streamsize>(m.buf.size()));
}

void MatrixWriter::close() {
    auto& m = *impl_;
    if (std::exchange(m.closed, true)) return;
    if (m.format == Format::binary) {
        m.out.seekp(m.row_count_at);
        m.out.write(reinterpret_cast<const char*>(&m.rows), sizeof m.rows);
    }
    m.out.flush();
    m.check_written();
    m.out.close();
    m.check_written();
    std::filesystem::rename(m.partial, m.path);
}

void write_csv(std::ostream& out, const FeatureSchema& schema, std::span<const FeatureVector> rows) {
    csv_header(out, schema);
    for (const auto& r : rows) csv_row(out, r);
}

void write_binary(const std::filesystem::path& path, const FeatureSchema& schema,
                  std::span<const FeatureVector> rows) {
    std::vector<std::string> names;  // in order of first appearance
    std::set<std::string_view> seen;
    for (const auto& r : rows)
        if (seen.insert(r.symbol).second) names.push_back(r.symbol);
    MatrixWriter w(path, MatrixWriter::Format::binary, schema, std::move(names));
    for (const auto& r : rows) w.write(r);
    w.close();
}

FeatureMatrix read_binary(const std::filesystem::path& path) {
    auto f = open_input(path);
    Cursor in(f, path);
    char magic[sizeof kMagic];
    in.read(magic, sizeof magic, "magic");
    if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) in.fail("wrong magic (not written by `pricecast features build`)");
    if (auto v = in.get<std::uint32_t>("version"); v != kVersion) in.fail(fmt::format("unsupported version {}", v));
    FeatureMatrix m;
    m.schema_hash = in.get<std::uint64_t>("schema hash");
    const auto ncols = in.get<std::uint32_t>("column count");
    for (std::uint32_t i = 0; i < ncols; ++i) m.columns.push_back(in.get_string("column names"));
    std::vector<std::string> names(in.get<std::uint32_t>("symbol count"));
    for (auto& n : names) n = in.get_string("symbol names");
    const auto rows = in.get<std::uint64_t>("row count");
    const std::size_t row_bytes = 4 + 8 + 8 + ncols * sizeof(double);
    // Checked before the matrix is sized from the header's count.
    if (in.size() / row_bytes < rows) in.fail(fmt::format("header says {} rows, file is shorter", rows));
    m.values.resize(rows * ncols);
    for (std::uint64_t r = 0; r < rows; ++r) {
        const auto sym = in.get<std::uint32_t>("row symbol");
        if (sym >= names.size()) in.fail(fmt::format("row {} names symbol #{} of {}", r, sym, names.size()));
        m.symbols.push_back(names[sym]);
        m.times.push_back(in.get<std::int64_t>("row time"));
        m.closes.push_back(in.get<double>("row close"));
        in.read(reinterpret_cast<char*>(m.values.data() + r * ncols), ncols * sizeof(double), "row values");
    }
    if (!in.done()) in.fail("trailing bytes after the last row");
    return m;
}

FeatureMatrix empty_matrix(const FeatureSchema& schema) {
    FeatureMatrix m;
    for (const auto& c : schema.columns()) m.columns.push_back(c.name);
    m.schema_hash = schema.hash();
    return m;
}

void append_row(FeatureMatrix& m, const FeatureVector& r) {
    m.symbols.push_back(r.symbol);
    m.times.push_back(r.close_time);
    m.closes.push_back(r.close);
    m.values.insert(m.values.end(), r.values.begin(), r.values.end());
}

FeatureMatrix to_matrix(const FeatureSchema& schema, std::span<const FeatureVector> rows) {
    auto m = empty_matrix(schema);
    m.values.reserve(rows.size() * schema.size());
    for (const auto& r : rows) append_row(m, r);
    return m;
}

}  // namespace pricecast::features
