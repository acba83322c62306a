#include "data/csv.hpp"

namespace pricecast::data {

bool read_csv_record(std::istream& in, std::vector<std::string>& fields, std::size_t& line) {
    fields.assign(1, "");
    bool quoted = false, any = false;
    for (int c; (c = in.get()) != EOF;) {
        any = true;
        if (quoted) {
            if (c == '"') {
                if (in.peek() == '"') fields.back() += static_cast<char>(in.get());
                else quoted = false;
            } else {
                if (c == '\n') ++line;
                fields.back() += static_cast<char>(c);
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.emplace_back();
        } else if (c == '\n') {
            ++line;
            return true;
        } else if (c != '\r') {
            fields.back() += static_cast<char>(c);
        }
    }
    return any;
}

}  // namespace pricecast::data
