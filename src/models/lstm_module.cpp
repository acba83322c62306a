// The entry points of libpricecast_lstm.so, the LSTM and libtorch as a module
// the pricecast binary loads on first use (lstm_loader.cpp). They have C
// names, so that the binary finds them with dlsym and no name of the module
// can stand in for one of the binary's.
#include "models/lstm.hpp"

extern "C" {

// The binary and the module must come from one build: the types they pass
// are laid out by it.
const char* pricecast_lstm_build() { return PRICECAST_LSTM_BUILD; }

pricecast::models::Model* pricecast_lstm_make(const pricecast::models::LstmConfig* cfg) {
    return new pricecast::models::LstmAttentionModel(*cfg);
}

pricecast::models::Model* pricecast_lstm_load(const std::filesystem::path* dir) {
    return pricecast::models::LstmAttentionModel::load(*dir).release();
}
}
