#include "sink.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cdp/common/absl_string.h"
#include "cdp/kafka/producer.h"

namespace cdp::tools {
namespace {

class FileSink final : public Sink {
 public:
  FileSink(std::FILE* file, std::string path, bool owned)
      : file_(file), path_(std::move(path)), owned_(owned) {
    // Big writes: a benchmark preload writes millions of lines.
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  }
  ~FileSink() override {
    if (owned_ && file_ != nullptr) std::fclose(file_);
  }

  absl::Status Write(std::string_view /*key*/, std::string_view value) override {
    if (std::fwrite(value.data(), 1, value.size(), file_) != value.size() ||
        std::fputc('\n', file_) == EOF) {
      return Failure("write to");
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (std::fflush(file_) != 0) return Failure("flush");
    if (owned_) {
      std::FILE* file = std::exchange(file_, nullptr);
      if (std::fclose(file) != 0) return Failure("close");
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Failure(std::string_view what) const {
    return absl::UnavailableError(
        absl::StrCat("cannot ", ToAbsl(what), " ", path_, ": ", std::strerror(errno)));
  }

  std::FILE* file_;
  std::string path_;
  bool owned_;
};

class KafkaSink final : public Sink {
 public:
  KafkaSink(std::unique_ptr<kafka::Producer> producer, KafkaSinkOptions options)
      : producer_(std::move(producer)), options_(std::move(options)) {
    if (options_.format == WireFormat::kJson) {
      headers_.push_back({.name = "content-type", .value = "application/json"});
    }
  }

  absl::Status Write(std::string_view key, std::string_view value) override {
    return producer_->Produce(options_.topic, key, value, headers_);
  }

  absl::Status Finish() override { return producer_->Flush(options_.flush_timeout); }

 private:
  std::unique_ptr<kafka::Producer> producer_;
  KafkaSinkOptions options_;
  std::vector<kafka::Header> headers_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Sink>> OpenFileSink(const std::string& path) {
  if (path == "-") return std::make_unique<FileSink>(stdout, "standard output", false);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open ", path, " for writing: ", std::strerror(errno)));
  }
  return std::make_unique<FileSink>(file, path, true);
}

absl::StatusOr<std::unique_ptr<Sink>> OpenKafkaSink(KafkaSinkOptions options) {
  kafka::ProducerOptions producer_options{.bootstrap_servers = options.brokers,
                                          .properties = options.properties};
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
      kafka::Producer::Create(producer_options);
  if (!producer.ok()) return producer.status();
  return std::make_unique<KafkaSink>(*std::move(producer), std::move(options));
}

absl::StatusOr<std::string> ReadBootstrapFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno),
                                            " (is tools/kafka-local running with "
                                            "--bootstrap-file ",
                                            path, "?)"));
  }
  std::string line;
  std::getline(file, line);
  absl::string_view servers = absl::StripAsciiWhitespace(line);
  // Also accept kafka-local's standard output saved to a file.
  absl::ConsumePrefix(&servers, "bootstrap.servers=");
  if (servers.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no bootstrap servers on its first line"));
  }
  return std::string(servers);
}

}  // namespace cdp::tools
