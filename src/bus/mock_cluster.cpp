// librdkafka's mock cluster (rdkafka_mock.h). In librdkafka 2.0.2 every mock
// broker binds 127.0.0.1 on a port the kernel picks and the API takes no
// address, so a fixed port cannot be asked for: only port 0 is accepted.
//
// The 2.0.2 mock answers no CreateTopics request (it names no controller)
// and auto-creates unknown topics with 4 partitions, so the pipeline's topics
// are created here with the KafkaOptions default of 3.
#include <algorithm>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bus/bus.hpp"

namespace pricecast::bus {

namespace {
constexpr int kPipelinePartitions = KafkaOptions{}.partitions;
}

struct MockCluster::Impl {
    rd_kafka_t* handle = nullptr;  // the mock's brokers run on this client's threads
    rd_kafka_mock_cluster_t* cluster = nullptr;

    ~Impl() {
        if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
        if (handle != nullptr) rd_kafka_destroy(handle);
    }
};

MockCluster::MockCluster(int brokers, int port) : impl_(std::make_unique<Impl>()) {
    if (brokers < 1) throw BusError(fmt::format("mock cluster: brokers must be at least 1, not {}", brokers));
    if (port != 0)
        throw BusError(fmt::format("mock cluster: port {} cannot be chosen: librdkafka {} binds its mock brokers to "
                                   "ports the kernel picks (use port 0 and read the bootstrap list)",
                                   port, rd_kafka_version_str()));
    char error[512] = {};
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    // The handle only hosts the brokers; its "no bootstrap.servers" notice is noise.
    rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
    impl_->handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (impl_->handle == nullptr) {
        rd_kafka_conf_destroy(conf);
        throw BusError(fmt::format("mock cluster: {}", error));
    }
    impl_->cluster = rd_kafka_mock_cluster_new(impl_->handle, brokers);
    if (impl_->cluster == nullptr) throw BusError("mock cluster: librdkafka could not start the mock brokers");
    for (const char* topic : {topics::prices, topics::news, topics::sentiment, topics::features, topics::predictions}) {
        const auto err = rd_kafka_mock_topic_create(impl_->cluster, topic, kPipelinePartitions, std::min(brokers, 3));
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            throw BusError(fmt::format("mock cluster: topic {}: {}", topic, rd_kafka_err2str(err)));
    }
}

MockCluster::~MockCluster() = default;

std::string MockCluster::bootstrap() const { return rd_kafka_mock_cluster_bootstraps(impl_->cluster); }

}  // namespace pricecast::bus
