#include "support/talib_oracle.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <mutex>
#include <stdexcept>

#ifdef PRICECAST_HAVE_TALIB
extern "C" {
#include <ta_abstract.h>
#include <ta_libc.h>
}
#endif

namespace pricecast::test {

OhlcvColumns::OhlcvColumns(const std::vector<Bar>& bars) {
    for (const auto& b : bars) {
        open.push_back(b.open);
        high.push_back(b.high);
        low.push_back(b.low);
        close.push_back(b.close);
        volume.push_back(b.volume);
    }
}

#ifndef PRICECAST_HAVE_TALIB

bool have_talib() { return false; }
TalibCall::TalibCall(const std::string&, const std::vector<double>&, const OhlcvColumns&) {
    throw std::runtime_error("TA-Lib not built");
}
TalibCall::~TalibCall() = default;
void TalibCall::run(int, int) {}
TalibFunctionInfo talib_info(const std::string&) { throw std::runtime_error("TA-Lib not built"); }
TalibResult talib_run(const std::string&, const std::vector<double>&, const OhlcvColumns&) {
    throw std::runtime_error("TA-Lib not built");
}

#else

namespace {

void init_once() {
    static std::once_flag once;
    // Without TA_Initialize the candle settings stay zero and patterns are wrong.
    std::call_once(once, [] {
        if (TA_Initialize() != TA_SUCCESS) throw std::runtime_error("TA_Initialize failed");
    });
}

std::string strip_lower(const char* s, std::string_view prefix) {
    std::string r(s);
    if (r.starts_with(prefix)) r.erase(0, prefix.size());
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

const TA_FuncHandle* handle_of(const std::string& name) {
    init_once();
    const TA_FuncHandle* h = nullptr;
    if (TA_GetFuncHandle(name.c_str(), &h) != TA_SUCCESS || !h)
        throw std::runtime_error("TA-Lib has no function " + name);
    return h;
}

void check(TA_RetCode rc, const std::string& what) {
    if (rc != TA_SUCCESS) {
        TA_RetCodeInfo info;
        TA_SetRetCodeInfo(rc, &info);
        throw std::runtime_error(what + ": " + info.infoStr);
    }
}

void set_range(const TA_OptInputParameterInfo& opt, TalibParamInfo& param) {
    auto list_range = [&param](const auto& list) {
        for (unsigned k = 0; k < list.nbElement; ++k) {
            const double v = list.data[k].value;
            param.min = k == 0 ? v : std::min(param.min, v);
            param.max = k == 0 ? v : std::max(param.max, v);
        }
    };
    switch (opt.type) {
        case TA_OptInput_RealRange: {
            const auto* r = static_cast<const TA_RealRange*>(opt.dataSet);
            param.min = r->min, param.max = r->max;
            break;
        }
        case TA_OptInput_IntegerRange: {
            const auto* r = static_cast<const TA_IntegerRange*>(opt.dataSet);
            param.min = r->min, param.max = r->max;
            break;
        }
        case TA_OptInput_RealList: list_range(*static_cast<const TA_RealList*>(opt.dataSet)); break;
        case TA_OptInput_IntegerList: list_range(*static_cast<const TA_IntegerList*>(opt.dataSet)); break;
    }
}

}  // namespace

bool have_talib() { return true; }

TalibFunctionInfo talib_info(const std::string& name) {
    const TA_FuncHandle* h = handle_of(name);
    const TA_FuncInfo* fi = nullptr;
    check(TA_GetFuncInfo(h, &fi), name);
    TalibFunctionInfo info;
    info.name = fi->name;
    for (unsigned i = 0; i < fi->nbInput; ++i) {
        const TA_InputParameterInfo* in = nullptr;
        check(TA_GetInputParameterInfo(h, i, &in), name);
        if (in->type == TA_Input_Real) {
            ++info.real_inputs;
            info.inputs.push_back("real");
        } else if (in->type == TA_Input_Price) {
            static const std::pair<int, const char*> kFlags[] = {{TA_IN_PRICE_OPEN, "open"}, {TA_IN_PRICE_HIGH, "high"},
                                                                 {TA_IN_PRICE_LOW, "low"}, {TA_IN_PRICE_CLOSE, "close"},
                                                                 {TA_IN_PRICE_VOLUME, "volume"}};
            for (auto [flag, col] : kFlags)
                if (in->flags & flag) info.price_inputs.emplace_back(col), info.inputs.emplace_back(col);
        } else {
            throw std::runtime_error(name + ": integer inputs are not supported by the oracle");
        }
    }
    int real_index = 0;
    for (auto& in : info.inputs)
        if (in == "real") in = info.real_inputs == 1 ? "close" : (real_index++ == 0 ? "high" : "low");
    for (unsigned i = 0; i < fi->nbOptInput; ++i) {
        const TA_OptInputParameterInfo* opt = nullptr;
        check(TA_GetOptInputParameterInfo(h, i, &opt), name);
        TalibParamInfo param{strip_lower(opt->paramName, "optIn"), opt->defaultValue,
                             opt->type == TA_OptInput_IntegerRange || opt->type == TA_OptInput_IntegerList};
        set_range(*opt, param);
        info.params.push_back(std::move(param));
    }
    for (unsigned i = 0; i < fi->nbOutput; ++i) {
        const TA_OutputParameterInfo* out = nullptr;
        check(TA_GetOutputParameterInfo(h, i, &out), name);
        // python-talib's names: outRealUpperBand -> upperband, outReal -> real.
        std::string o = strip_lower(out->paramName, "out");
        if (o.size() > 4 && o.starts_with("real")) o.erase(0, 4);
        info.outputs.push_back(o);
        if (out->type == TA_Output_Integer) info.integer_output = true;
    }
    return info;
}

namespace {

// Binds inputs, parameters and output buffers (sized like the inputs) to a new
// parameter holder.
TA_ParamHolder* bind(const std::string& name, const std::vector<double>& params, const OhlcvColumns& data,
                     std::vector<std::vector<double>>& real_out, std::vector<std::vector<int>>& int_out) {
    const TA_FuncHandle* h = handle_of(name);
    const TalibFunctionInfo info = talib_info(name);
    if (params.size() != info.params.size())
        throw std::runtime_error(name + ": expected " + std::to_string(info.params.size()) + " parameters");
    TA_ParamHolder* ph = nullptr;
    check(TA_ParamHolderAlloc(h, &ph), name);

    const int n = static_cast<int>(data.close.size());
    unsigned in_index = 0;
    int real_seen = 0;
    const TA_FuncInfo* fi = nullptr;
    check(TA_GetFuncInfo(h, &fi), name);
    for (unsigned i = 0; i < fi->nbInput; ++i) {
        const TA_InputParameterInfo* in = nullptr;
        check(TA_GetInputParameterInfo(h, i, &in), name);
        if (in->type == TA_Input_Price) {
            check(TA_SetInputParamPricePtr(ph, in_index, data.open.data(), data.high.data(), data.low.data(),
                                           data.close.data(), data.volume.data(), nullptr),
                  name);
        } else {
            const double* real = info.real_inputs == 1 ? data.close.data()
                                 : real_seen == 0      ? data.high.data()
                                                       : data.low.data();
            ++real_seen;
            check(TA_SetInputParamRealPtr(ph, in_index, real), name);
        }
        ++in_index;
    }
    for (unsigned i = 0; i < info.params.size(); ++i) {
        if (info.params[i].integer)
            check(TA_SetOptInputParamInteger(ph, i, static_cast<int>(params[i])), name);
        else
            check(TA_SetOptInputParamReal(ph, i, params[i]), name);
    }
    real_out.assign(info.outputs.size(), std::vector<double>(static_cast<std::size_t>(n)));
    int_out.assign(info.outputs.size(), std::vector<int>(static_cast<std::size_t>(n)));
    for (unsigned i = 0; i < info.outputs.size(); ++i) {
        const TA_OutputParameterInfo* out = nullptr;
        check(TA_GetOutputParameterInfo(h, i, &out), name);
        if (out->type == TA_Output_Integer)
            check(TA_SetOutputParamIntegerPtr(ph, i, int_out[i].data()), name);
        else
            check(TA_SetOutputParamRealPtr(ph, i, real_out[i].data()), name);
    }
    return ph;
}

}  // namespace

TalibCall::TalibCall(const std::string& name, const std::vector<double>& params, const OhlcvColumns& data) {
    auto* ph = bind(name, params, data, real_out_, int_out_);
    holder_ = ph;
    check(TA_GetLookback(ph, &lookback_), name);
}

TalibCall::~TalibCall() { TA_ParamHolderFree(static_cast<TA_ParamHolder*>(holder_)); }

void TalibCall::run(int first, int last) {
    TA_Integer beg = 0, count = 0;
    TA_CallFunc(static_cast<TA_ParamHolder*>(holder_), first, last, &beg, &count);
}

TalibResult talib_run(const std::string& name, const std::vector<double>& params, const OhlcvColumns& data) {
    const TA_FuncHandle* h = handle_of(name);
    const TalibFunctionInfo info = talib_info(name);
    std::vector<std::vector<double>> real_out;
    std::vector<std::vector<int>> int_out;
    TA_ParamHolder* ph = bind(name, params, data, real_out, int_out);
    struct Free {
        TA_ParamHolder* p;
        ~Free() { TA_ParamHolderFree(p); }
    } guard{ph};
    const int n = static_cast<int>(data.close.size());
    TalibResult r;
    check(TA_GetLookback(ph, &r.lookback), name);
    TA_Integer beg = 0, count = 0;
    if (n > 0) check(TA_CallFunc(ph, 0, n - 1, &beg, &count), name);
    r.begin = count > 0 ? beg : n;
    for (unsigned i = 0; i < info.outputs.size(); ++i) {
        const TA_OutputParameterInfo* out = nullptr;
        check(TA_GetOutputParameterInfo(h, i, &out), name);
        std::vector<double> col(static_cast<std::size_t>(n), std::numeric_limits<double>::quiet_NaN());
        for (int k = 0; k < count; ++k)
            col[static_cast<std::size_t>(beg + k)] = out->type == TA_Output_Integer
                                                         ? int_out[i][static_cast<std::size_t>(k)]
                                                         : real_out[i][static_cast<std::size_t>(k)];
        r.outputs.push_back(std::move(col));
    }
    return r;
}

#endif

}  // namespace pricecast::test
