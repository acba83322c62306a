#include "models/model.hpp"

namespace pricecast::models {

std::string_view to_string(Trend t) {
    switch (t) {
        case Trend::down: return "DOWN";
        case Trend::stable: return "STABLE";
        case Trend::up: return "UP";
    }
    return "?";
}

}  // namespace pricecast::models
