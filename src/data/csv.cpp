#include "data/csv.hpp"

namespace pricecast::data {

int CsvReader::get() {
    if (pos_ < pending_.size()) return static_cast<unsigned char>(pending_[pos_++]);
    return in_.get();
}

int CsvReader::peek() {
    if (pos_ < pending_.size()) return static_cast<unsigned char>(pending_[pos_]);
    return in_.peek();
}

bool CsvReader::next(std::vector<std::string>& fields) {
    fields.assign(1, "");
    raw_.clear();
    first_line_ = line_ + 1;
    bool quoted = false;
    for (int c; (c = get()) != EOF;) {
        raw_ += static_cast<char>(c);
        if (c == '\n') ++line_;
        if (quoted) {
            if (c != '"') {
                fields.back() += static_cast<char>(c);
            } else if (peek() == '"') {
                raw_ += static_cast<char>(get());
                fields.back() += '"';
            } else {
                quoted = false;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.emplace_back();
        } else if (c == '\n') {
            unclosed_ = false;
            return true;
        } else if (c != '\r') {
            fields.back() += static_cast<char>(c);
        }
    }
    unclosed_ = quoted;
    return !raw_.empty();
}

bool CsvReader::spans_lines() const {
    const auto nl = raw_.find('\n');
    return nl != std::string::npos && nl + 1 < raw_.size();
}

void CsvReader::reread_after_first_line() {
    const auto nl = raw_.find('\n');
    if (nl == std::string::npos) return;
    pending_ = raw_.substr(nl + 1) + pending_.substr(pos_);
    pos_ = 0;
    line_ = first_line_;
    unclosed_ = false;
}

bool read_csv_record(std::istream& in, std::vector<std::string>& fields, std::size_t& line) {
    // A fresh reader has nothing pending, so it consumes exactly one record from `in`.
    CsvReader reader(in);
    if (!reader.next(fields)) return false;
    line += reader.lines();
    return true;
}

}  // namespace pricecast::data
