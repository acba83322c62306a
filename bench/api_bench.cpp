// The API server on this machine: REST requests/s on /v1/predictions/latest
// over keep-alive connections (1 and 4 client threads), and WebSocket fan-out:
// one prediction added to the store reaching every one of N subscribed clients,
// with the delay from PredictionStore::add to each client's receipt (p50/p99).
// Clients and server share the machine's cores, so these are lower bounds.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <list>
#include <thread>

#include "support/api_client.hpp"
#include "support/api_env.hpp"

namespace pc = pricecast;
namespace websocket = boost::beast::websocket;
using Clock = std::chrono::steady_clock;

namespace {

pc::test::ApiEnv& env() {
    static pc::test::ApiEnv e = [] {
        pc::api::ServerOptions o;
        o.threads = 2;
        return pc::test::ApiEnv(o);
    }();
    static const bool filled = [] {
        for (int i = 0; i < 100; ++i)
            e.predictions.add(pc::test::make_prediction("BTC", 1'700'000'000'000'000'000 + i));
        return true;
    }();
    (void)filled;
    return e;
}

void BM_RestLatest(benchmark::State& state) {
    pc::test::net::io_context ioc;
    auto socket = pc::test::connect(ioc, env().port());
    pc::test::http::request<pc::test::http::empty_body> req{pc::test::http::verb::get,
                                                            "/v1/predictions/latest?symbol=BTC", 11};
    req.set(pc::test::http::field::host, "127.0.0.1");
    for (auto _ : state) {
        pc::test::http::write(socket, req);
        const auto r = pc::test::read_response(socket);
        if (r.status != 200) state.SkipWithError("not 200");
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RestLatest)->Threads(1)->Threads(4)->UseRealTime();

// N WebSocket clients on one client thread, counting receipts of each round.
class Fanout {
public:
    explicit Fanout(int clients) {
        for (int i = 0; i < clients; ++i) {
            auto& ws = sockets_.emplace_back(ioc_);
            ws.next_layer().connect(
                {pc::test::net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(env().port())});
            ws.handshake("127.0.0.1", "/ws");
            ws.write(pc::test::net::buffer(std::string(R"({"op":"subscribe","symbols":["*"]})")));
            pc::test::beast::flat_buffer ack;
            ws.read(ack);
            read(ws);
        }
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~Fanout() {
        for (auto& ws : sockets_) pc::test::net::post(ioc_, [&ws] { ws.next_layer().close(); });
        work_.reset();
        thread_.join();
    }

    // Adds one prediction and waits until every client has it.
    void round(std::int64_t bar_time) {
        std::unique_lock lock(mutex_);
        received_ = 0;
        started_ = Clock::now();
        lock.unlock();
        env().predictions.add(pc::test::make_prediction("FAN", bar_time));
        lock.lock();
        done_.wait(lock, [&] { return received_ == sockets_.size(); });
    }
    std::vector<double>& delays_us() { return delays_; }

private:
    using Ws = websocket::stream<pc::test::tcp::socket>;

    void read(Ws& ws) {
        auto buffer = std::make_shared<pc::test::beast::flat_buffer>();
        ws.async_read(*buffer, [this, &ws, buffer](boost::beast::error_code ec, std::size_t) {
            if (ec) return;
            std::lock_guard lock(mutex_);
            delays_.push_back(std::chrono::duration<double, std::micro>(Clock::now() - started_).count());
            if (++received_ == sockets_.size()) done_.notify_one();
            read(ws);
        });
    }

    pc::test::net::io_context ioc_;
    pc::test::net::executor_work_guard<pc::test::net::io_context::executor_type> work_{ioc_.get_executor()};
    std::list<Ws> sockets_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable done_;
    std::size_t received_ = 0;
    Clock::time_point started_;
    std::vector<double> delays_;
};

void BM_WsFanout(benchmark::State& state) {
    Fanout fan(static_cast<int>(state.range(0)));
    static std::int64_t bar_time = 1'700'000'000'000'000'000;
    for (auto _ : state) fan.round(++bar_time);
    auto& d = fan.delays_us();
    std::sort(d.begin(), d.end());
    if (!d.empty()) {
        state.counters["p50_us"] = d[d.size() / 2];
        state.counters["p99_us"] = d[d.size() * 99 / 100];
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_WsFanout)->Arg(10)->Arg(100)->Arg(1000)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
