// What a build is: the release and the commit it was made from.
#pragma once

#include <string>

namespace pricecast {

// `git describe` of the source tree at build time ("a36f2c5e1d2b", "...-dirty"), or "unknown".
const char* build_commit();

// "0.1.0+a36f2c5e1d2b": what a registered model records as its code version.
inline std::string code_version() { return std::string(PRICECAST_VERSION) + "+" + build_commit(); }

}  // namespace pricecast
