// The concrete pipelines. What differs between them is what the relay looks at; the relay itself
// (framing, back pressure, sync tracking) is shared.
#include "pgquay/pipeline/pipeline.hpp"

namespace pgquay::pipeline {
namespace {

class PerformancePipeline final : public Pipeline {
 public:
  const char* name() const override { return "performance"; }
  bool tracks_parameters() const override { return false; }
};

class SessionPipeline final : public Pipeline {
 public:
  const char* name() const override { return "session"; }
  bool tracks_parameters() const override { return true; }
};

// The relay's transaction mode (TransactionRelay) does the work; the pipeline tracks parameters so
// each client's reported settings follow it from connection to connection.
class TransactionPipeline final : public Pipeline {
 public:
  const char* name() const override { return "transaction"; }
  bool tracks_parameters() const override { return true; }
};

}  // namespace

std::unique_ptr<Pipeline> make_pipeline(config::Pipeline kind) {
  switch (kind) {
    case config::Pipeline::performance:
      return std::make_unique<PerformancePipeline>();
    case config::Pipeline::automatic:
    case config::Pipeline::session:
      return std::make_unique<SessionPipeline>();
    case config::Pipeline::transaction:
      return std::make_unique<TransactionPipeline>();
  }
  return std::make_unique<SessionPipeline>();
}

}  // namespace pgquay::pipeline
