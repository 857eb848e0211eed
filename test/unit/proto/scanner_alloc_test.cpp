// Proves the scanner's hot path does not allocate: this test binary counts every operator new.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "bytes.hpp"
#include "pgquay/proto/messages.hpp"
#include "pgquay/proto/scanner.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace pgquay::proto {
namespace {

// Touches nothing but counters.
class Counter final : public MessageScanner::Visitor {
 public:
  std::size_t forwarded = 0;
  std::size_t headers = 0;
  std::size_t ready = 0;
  Disposition on_header(char type, std::uint32_t) override {
    ++headers;
    if (type == 'Z') return Disposition::inspect;
    if (type == 'X') return Disposition::drop;
    return Disposition::pass;
  }
  void on_message(char, std::string_view body) override { ready += body == "I" ? 1 : 0; }
  void on_forward(std::string_view bytes) override { forwarded += bytes.size(); }
};

TEST(ScannerAllocations, NoneOnTheHotPath) {
  std::string stream;
  for (int i = 0; i < 200; ++i) {
    stream += test::message('D', std::string(static_cast<std::size_t>(i % 50), 'r'));
    if (i % 20 == 19) {
      stream += test::message('C', test::S("SELECT 20\0"));
      build_ready_for_query(stream, TxStatus::idle);
      build_terminate(stream);
    }
  }
  MessageScanner scanner;
  Counter counter;
  // Warm up once (a split inspected body may size the scanner's buffer), then measure.
  for (std::size_t chunk : {std::size_t{7}, std::size_t{3}, std::size_t{1024}}) {
    for (int pass = 0; pass < 2; ++pass) {
      counter = Counter{};
      const long before = g_allocations.load();
      for (std::size_t at = 0; at < stream.size(); at += chunk) {
        ASSERT_TRUE(scanner.feed(std::string_view(stream).substr(at, chunk), counter));
      }
      const long allocated = g_allocations.load() - before;
      if (pass == 1) {
        EXPECT_EQ(allocated, 0) << "chunk " << chunk;
      }
      EXPECT_EQ(counter.headers, 200u + 3 * 10);
      EXPECT_EQ(counter.ready, 10u);
      EXPECT_EQ(counter.forwarded, stream.size() - 10 * 5);  // the Terminates are dropped
    }
  }
}

}  // namespace
}  // namespace pgquay::proto
