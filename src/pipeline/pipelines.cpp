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

}  // namespace

std::unique_ptr<Pipeline> make_pipeline(config::Pipeline kind) {
  switch (kind) {
    case config::Pipeline::performance:
      return std::make_unique<PerformancePipeline>();
    case config::Pipeline::automatic:
    case config::Pipeline::session:
    case config::Pipeline::transaction:  // until the transaction pipeline lands: session
      return std::make_unique<SessionPipeline>();
  }
  return std::make_unique<SessionPipeline>();
}

}  // namespace pgquay::pipeline
