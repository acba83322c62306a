// Binary snapshot of streaming state (indicators, feature pipeline, ...).
//
// A stateful object exposes its fields once, through a visitor:
//
//     template <class V> void fields(V& v) { v(count_, sum_, window_); }
//
// and StateWriter / StateReader walk that list to save and restore it, so the
// list of fields is written in exactly one place. The format is host-endian
// raw bytes behind a tag; it is a process-restart format, not an exchange one.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace pricecast {

class StateError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class StateWriter {
public:
    template <class... Ts>
    void operator()(const Ts&... values) {
        (put(values), ...);
    }
    void tag(std::string_view name) {
        put(static_cast<std::uint32_t>(name.size()));
        bytes_.append(name);
    }
    const std::string& bytes() const { return bytes_; }
    std::string take() { return std::move(bytes_); }

private:
    template <class T>
    void put(const T& v) {
        if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
            bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
        } else if constexpr (requires { v.size(); v.begin(); }) {
            put(static_cast<std::uint64_t>(v.size()));
            for (const auto& e : v) put(e);
        } else if constexpr (requires { v.first; v.second; }) {
            put(v.first);
            put(v.second);
        } else {
            const_cast<T&>(v).fields(*this);
        }
    }
    std::string bytes_;
};

class StateReader {
public:
    explicit StateReader(std::string_view bytes) : rest_(bytes) {}
    template <class... Ts>
    void operator()(Ts&... values) {
        (get(values), ...);
    }
    void tag(std::string_view expected) {
        std::uint32_t n = 0;
        get(n);
        if (n != expected.size() || rest_.substr(0, n) != expected)
            throw StateError("snapshot is not for '" + std::string(expected) + "'");
        rest_.remove_prefix(n);
    }
    bool done() const { return rest_.empty(); }

private:
    template <class T>
    void get(T& v) {
        if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
            if (rest_.size() < sizeof v) throw StateError("snapshot truncated");
            std::memcpy(&v, rest_.data(), sizeof v);
            rest_.remove_prefix(sizeof v);
        } else if constexpr (requires { v.clear(); v.resize(1); }) {
            std::uint64_t n = 0;
            get(n);
            if (n > rest_.size()) throw StateError("snapshot truncated");
            // Same length: restore in place, so elements keep their configuration
            // (fields() lists state, not settings).
            if (n != v.size()) {
                v.clear();
                v.resize(n);
            }
            for (auto& e : v) get(e);
        } else if constexpr (requires { v.size(); v.begin(); }) {  // fixed size (std::array)
            std::uint64_t n = 0;
            get(n);
            if (n != v.size()) throw StateError("snapshot has a different shape");
            for (auto& e : v) get(e);
        } else if constexpr (requires { v.first; v.second; }) {
            get(v.first);
            get(v.second);
        } else {
            v.fields(*this);
        }
    }
    std::string_view rest_;
};

}  // namespace pricecast
