// TA-Lib (compiled from the npm talib 2.0.5 tarball's C sources) called through
// its abstract interface by function name: the reference our indicators must
// match. Tests and benchmarks only; never linked into the pricecast binary.
#pragma once

#include <string>
#include <vector>

#include "core/types.hpp"

namespace pricecast::test {

bool have_talib();

struct TalibParamInfo {
    std::string name;  // "timeperiod" (optIn prefix dropped, lower case)
    double default_value = 0;
    bool integer = true;
    // The range TA-Lib's table allows; for a list (the MA types) its lowest and
    // highest values.
    double min = 0;
    double max = 0;
};

struct TalibFunctionInfo {
    std::string name;
    std::vector<std::string> price_inputs;  // of open/high/low/close/volume, in TA-Lib's order
    int real_inputs = 0;                     // number of plain "real" inputs
    // All inputs in TA-Lib's order; a plain real input reads close (one real) or
    // high then low (two reals), python-talib's defaults.
    std::vector<std::string> inputs;
    std::vector<TalibParamInfo> params;
    std::vector<std::string> outputs;        // lower case, "out" prefix dropped
    bool integer_output = false;
};

// Throws std::runtime_error for an unknown function.
TalibFunctionInfo talib_info(const std::string& name);

// Columns of the OHLCV arrays TA-Lib reads.
struct OhlcvColumns {
    std::vector<double> open, high, low, close, volume;
    explicit OhlcvColumns(const std::vector<Bar>& bars);
};

struct TalibResult {
    int lookback = 0;
    int begin = 0;
    // outputs[k][i]: output k at bar i, NaN before `begin`.
    std::vector<std::vector<double>> outputs;
};

// Runs TA-Lib's function over the whole array (startIdx 0, endIdx n-1), the way a
// batch user calls it. Plain real inputs are close (one input) or high, low (two),
// python-talib's defaults. Throws std::runtime_error on a TA-Lib error code.
TalibResult talib_run(const std::string& name, const std::vector<double>& params, const OhlcvColumns& data);

// A TA-Lib call prepared once (parameters bound, output buffers allocated) so
// that benchmarks time TA_CallFunc alone. `run(first, last)` computes bars
// first..last of the bound columns.
class TalibCall {
public:
    TalibCall(const std::string& name, const std::vector<double>& params, const OhlcvColumns& data);
    ~TalibCall();
    TalibCall(const TalibCall&) = delete;
    TalibCall& operator=(const TalibCall&) = delete;
    void run(int first, int last);
    int lookback() const { return lookback_; }

private:
    void* holder_ = nullptr;
    std::vector<std::vector<double>> real_out_;
    std::vector<std::vector<int>> int_out_;
    int lookback_ = 0;
};

}  // namespace pricecast::test
