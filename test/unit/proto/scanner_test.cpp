#include "pgquay/proto/scanner.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "bytes.hpp"
#include "pgquay/proto/error_fields.hpp"
#include "pgquay/proto/messages.hpp"

namespace pgquay::proto {
namespace {

using test::B;
using test::be32;
using test::message;
using test::S;

// Records what the scanner reports. Forwarded pieces are kept as views and copied out only after
// feed() returns, which checks the lifetime contract; replacements for captured messages are
// recorded as owned strings in the same sequence, which checks the ordering contract.
class Recorder : public MessageScanner::Visitor {
 public:
  std::map<char, Disposition> policy;       // types not listed: pass
  std::map<char, std::string> replacement;  // appended from on_message for captured types
  std::vector<std::string> headers;         // "D:12"
  std::vector<std::string> messages;        // "Z:I"
  std::string output;                       // forwarded bytes and replacements, in order
  std::size_t forward_calls = 0;

  Disposition on_header(char type, std::uint32_t size) override {
    headers.push_back(std::string(1, type) + ":" + std::to_string(size));
    const auto it = policy.find(type);
    return it == policy.end() ? Disposition::pass : it->second;
  }
  void on_message(char type, std::string_view body) override {
    messages.push_back(std::string(1, type) + ":" + std::string(body));
    pending_.emplace_back(std::string(), true);
    if (const auto it = replacement.find(type); it != replacement.end()) {
      pending_.back().first = it->second;
    }
  }
  void on_forward(std::string_view bytes) override {
    ++forward_calls;
    EXPECT_FALSE(bytes.empty());
    views_.push_back({pending_.size(), bytes});
  }

  // Feeds one chunk and materialises the output (views are still valid at this point).
  ProtoResult<void> feed(MessageScanner& scanner, std::string_view chunk) {
    auto r = scanner.feed(chunk, *this);
    // Interleave views and replacements in call order.
    std::size_t v = 0;
    for (std::size_t p = 0; p <= pending_.size(); ++p) {
      while (v < views_.size() && views_[v].before == p) output.append(views_[v++].bytes);
      if (p < pending_.size()) output += pending_[p].first;
    }
    views_.clear();
    pending_.clear();
    return r;
  }

 private:
  struct View {
    std::size_t before;  // number of on_message calls before this piece
    std::string_view bytes;
  };
  std::vector<View> views_;
  std::vector<std::pair<std::string, bool>> pending_;
};

// A server reply: ParameterStatus, BackendKeyData, RowDescription-ish, DataRows, CommandComplete,
// a notice, an error, ReadyForQuery; plus empty-body messages.
std::string server_stream() {
  std::string s;
  build_parameter_status(s, "TimeZone", "UTC");
  build_backend_key_data(s, {42, 7});
  s += message('T', S("\0\1col\0"));
  s += message('D', S("\0\1\0\0\0\3abc"));
  s += message('D', std::string(37, 'x'));
  s += message('1', "");
  s += message('C', S("SELECT 2\0"));
  build_fatal(s, "57P01", "terminating connection due to administrator command");
  build_ready_for_query(s, TxStatus::in_transaction);
  return s;
}

void expect_same(const Recorder& a, const Recorder& b, const std::string& where) {
  EXPECT_EQ(a.output, b.output) << where;
  EXPECT_EQ(a.headers, b.headers) << where;
  EXPECT_EQ(a.messages, b.messages) << where;
}

void configure(Recorder& r) {
  r.policy = {{'Z', Disposition::inspect}, {'E', Disposition::inspect}, {'S', Disposition::inspect},
              {'K', Disposition::capture}, {'1', Disposition::drop},    {'T', Disposition::drop}};
  r.replacement = {{'K', "<key>"}};
}

TEST(Scanner, WholeStreamInOneChunk) {
  const std::string stream = server_stream();
  MessageScanner scanner;
  Recorder r;
  configure(r);
  ASSERT_TRUE(r.feed(scanner, stream));
  EXPECT_TRUE(scanner.at_boundary());
  EXPECT_EQ(r.headers, (std::vector<std::string>{"S:18", "K:13", "T:11", "D:14", "D:42", "1:5",
                                                 "C:14", "E:80", "Z:6"}));
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0], "S:" + S("TimeZone\0UTC\0"));
  EXPECT_EQ(r.messages[1], "K:" + B({0, 0, 0, 42, 0, 0, 0, 7}));
  EXPECT_EQ(r.messages[3], "Z:T");
  // Output: the stream without T and '1', with K replaced in place.
  std::string expected;
  build_parameter_status(expected, "TimeZone", "UTC");
  expected += "<key>";
  expected += message('D', S("\0\1\0\0\0\3abc"));
  expected += message('D', std::string(37, 'x'));
  expected += message('C', S("SELECT 2\0"));
  build_fatal(expected, "57P01", "terminating connection due to administrator command");
  build_ready_for_query(expected, TxStatus::in_transaction);
  EXPECT_EQ(r.output, expected);
}

TEST(Scanner, ErrorBodyIsDeliveredForFatalDetection) {
  MessageScanner scanner;
  Recorder r;
  configure(r);
  ASSERT_TRUE(r.feed(scanner, server_stream()));
  const std::string& e = r.messages[2];
  ASSERT_EQ(e[0], 'E');
  auto fields = parse_error_fields(std::string_view(e).substr(2));
  ASSERT_TRUE(fields);
  EXPECT_TRUE(is_fatal_or_panic(*fields));
  EXPECT_EQ(fields->sqlstate, "57P01");
}

TEST(Scanner, SplitAtEveryOffset) {
  const std::string stream = server_stream();
  Recorder reference;
  configure(reference);
  MessageScanner whole;
  ASSERT_TRUE(reference.feed(whole, stream));

  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    MessageScanner scanner;
    Recorder r;
    configure(r);
    ASSERT_TRUE(r.feed(scanner, std::string_view(stream).substr(0, cut)));
    ASSERT_TRUE(r.feed(scanner, std::string_view(stream).substr(cut)));
    EXPECT_TRUE(scanner.at_boundary());
    expect_same(reference, r, "cut at " + std::to_string(cut));
  }
}

TEST(Scanner, SplitAtEveryPairOfOffsets) {
  const std::string stream = server_stream();
  Recorder reference;
  configure(reference);
  MessageScanner whole;
  ASSERT_TRUE(reference.feed(whole, stream));

  for (std::size_t a = 0; a <= stream.size(); ++a) {
    for (std::size_t b = a; b <= stream.size(); ++b) {
      MessageScanner scanner;
      Recorder r;
      configure(r);
      // Each chunk lives in its own buffer, freed before the next feed, so a view that outlived
      // its feed() would be caught by AddressSanitizer.
      for (auto [from, to] : {std::pair{std::size_t{0}, a}, {a, b}, {b, stream.size()}}) {
        const std::string chunk = stream.substr(from, to - from);
        ASSERT_TRUE(r.feed(scanner, chunk));
      }
      expect_same(reference, r, "cuts at " + std::to_string(a) + "," + std::to_string(b));
    }
  }
}

TEST(Scanner, ByteByByte) {
  const std::string stream = server_stream();
  Recorder reference;
  configure(reference);
  MessageScanner whole;
  ASSERT_TRUE(reference.feed(whole, stream));

  MessageScanner scanner;
  Recorder r;
  configure(r);
  for (std::size_t i = 0; i < stream.size(); ++i) {
    const std::string one = stream.substr(i, 1);
    ASSERT_TRUE(r.feed(scanner, one));
  }
  EXPECT_TRUE(scanner.at_boundary());
  expect_same(reference, r, "byte by byte");
}

TEST(Scanner, AtBoundaryOnlyBetweenMessages) {
  std::string stream = message('D', "abc") + message('Z', "I");
  MessageScanner scanner;
  Recorder r;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    EXPECT_EQ(scanner.at_boundary(), i == 0 || i == 8) << i;
    ASSERT_TRUE(r.feed(scanner, stream.substr(i, 1)));
  }
  EXPECT_TRUE(scanner.at_boundary());
}

TEST(Scanner, DropClientTerminate) {
  std::string stream;
  build_query(stream, "SELECT 1");
  build_terminate(stream);
  std::string expected;
  build_query(expected, "SELECT 1");

  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    MessageScanner scanner;
    Recorder r;
    r.policy = {{'X', Disposition::drop}};
    ASSERT_TRUE(r.feed(scanner, stream.substr(0, cut)));
    ASSERT_TRUE(r.feed(scanner, stream.substr(cut)));
    EXPECT_EQ(r.output, expected) << cut;
    EXPECT_EQ(r.headers, (std::vector<std::string>{"Q:14", "X:5"}));
    EXPECT_TRUE(r.messages.empty());
  }
}

TEST(Scanner, CaptureReplacesInPlace) {
  std::string stream;
  build_query(stream, "BEGIN");
  build_terminate(stream);
  build_query(stream, "END");
  MessageScanner scanner;
  Recorder r;
  r.policy = {{'X', Disposition::capture}};
  r.replacement = {{'X', "<rollback>"}};
  ASSERT_TRUE(r.feed(scanner, stream));
  std::string expected;
  build_query(expected, "BEGIN");
  expected += "<rollback>";
  build_query(expected, "END");
  EXPECT_EQ(r.output, expected);
  EXPECT_EQ(r.messages, (std::vector<std::string>{"X:"}));
}

TEST(Scanner, PassedBytesAreCoalesced) {
  std::string stream;
  for (int i = 0; i < 100; ++i) stream += message('D', std::string(i, 'r'));
  MessageScanner scanner;
  Recorder r;
  ASSERT_TRUE(r.feed(scanner, stream));
  EXPECT_EQ(r.forward_calls, 1u);
  EXPECT_EQ(r.output, stream);
  EXPECT_EQ(r.headers.size(), 100u);
}

TEST(Scanner, LargeDataRowStreamsWithoutBuffering) {
  // A 1 MiB DataRow fed in 64 KiB chunks: each chunk goes straight through as one piece.
  const std::string body(1 << 20, 'v');
  const std::string stream = message('D', body) + message('Z', "I");
  MessageScanner scanner;
  Recorder r;
  r.policy = {{'Z', Disposition::inspect}};
  std::size_t chunks = 0;
  for (std::size_t at = 0; at < stream.size(); at += 65536, ++chunks) {
    ASSERT_TRUE(r.feed(scanner, std::string_view(stream).substr(at, 65536)));
  }
  EXPECT_EQ(r.forward_calls, chunks);
  EXPECT_EQ(r.output, stream);
  EXPECT_EQ(r.headers, (std::vector<std::string>{"D:" + std::to_string((1 << 20) + 5), "Z:6"}));
  EXPECT_EQ(r.messages, (std::vector<std::string>{"Z:I"}));
}

TEST(Scanner, InspectedBodySplitAcrossManyChunks) {
  ErrorFields f;
  f.severity = f.severity_nonlocalized = "ERROR";
  f.sqlstate = "22023";
  f.message = std::string(5000, 'm');
  std::string stream;
  build_error_response(stream, f);
  MessageScanner scanner;
  Recorder r;
  r.policy = {{'E', Disposition::inspect}};
  for (std::size_t at = 0; at < stream.size(); at += 333) {
    ASSERT_TRUE(r.feed(scanner, std::string_view(stream).substr(at, 333)));
  }
  ASSERT_EQ(r.messages.size(), 1u);
  auto parsed = parse_error_fields(std::string_view(r.messages[0]).substr(2));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, f);
  EXPECT_EQ(r.output, stream);
}

TEST(Scanner, BadLengthsAreProtocolErrors) {
  const struct {
    std::string header;
    std::string detail;
  } cases[] = {
      {B({'D', 0, 0, 0, 3}),
       "message type 'D' declares length 3; lengths from 4 to 1073741824 "
       "are accepted"},
      {B({'D', 0, 0, 0, 0}),
       "message type 'D' declares length 0; lengths from 4 to 1073741824 "
       "are accepted"},
      {B({'D', 0x40, 0, 0, 1}),
       "message type 'D' declares length 1073741825; lengths from 4 to "
       "1073741824 are accepted"},
      {B({0, 0xff, 0xff, 0xff, 0xfb}),
       "message type 0x00 declares length -5; lengths from 4 to "
       "1073741824 are accepted"},
  };
  const std::string good = message('C', S("OK\0"));
  for (const auto& c : cases) {
    for (std::size_t cut = 0; cut < c.header.size(); ++cut) {
      MessageScanner scanner;
      Recorder r;
      const std::string stream = good + c.header + "trailing";
      auto first = r.feed(scanner, std::string_view(stream).substr(0, good.size() + cut));
      ASSERT_TRUE(first) << cut;  // the bad header is not complete yet
      auto second = r.feed(scanner, std::string_view(stream).substr(good.size() + cut));
      ASSERT_FALSE(second) << cut;
      EXPECT_EQ(second.error().sqlstate, "08P01");
      EXPECT_EQ(second.error().message, "invalid message length");
      EXPECT_EQ(second.error().detail, c.detail);
      // Everything before the bad header went through, nothing after it.
      EXPECT_EQ(r.output, good);
      EXPECT_FALSE(scanner.at_boundary());
      // The error sticks.
      auto again = r.feed(scanner, good);
      ASSERT_FALSE(again);
      EXPECT_EQ(again.error().detail, c.detail);
      EXPECT_EQ(r.output, good);
      // reset() starts a fresh stream.
      scanner.reset();
      EXPECT_TRUE(scanner.at_boundary());
      ASSERT_TRUE(r.feed(scanner, good));
      EXPECT_EQ(r.output, good + good);
    }
  }
}

TEST(Scanner, CustomMaximum) {
  MessageScanner scanner(100);
  Recorder r;
  ASSERT_TRUE(r.feed(scanner, message('D', std::string(96, 'x'))));
  auto bad = r.feed(scanner, B({'D', 0, 0, 0, 101}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().detail,
            "message type 'D' declares length 101; lengths from 4 to 100 are accepted");
}

TEST(Scanner, InterleavedDispositionsAtEverySplit) {
  // Every disposition next to every other, including empty bodies.
  std::string stream;
  const char types[] = {'a', 'b', 'c', 'd'};
  for (int round = 0; round < 3; ++round) {
    for (char t : types) stream += message(t, std::string(round * 3, t));
  }
  auto setup = [](Recorder& r) {
    r.policy = {{'a', Disposition::pass},
                {'b', Disposition::inspect},
                {'c', Disposition::drop},
                {'d', Disposition::capture}};
    r.replacement = {{'d', "#"}};
  };
  std::string expected;
  for (int round = 0; round < 3; ++round) {
    expected += message('a', std::string(round * 3, 'a'));
    expected += message('b', std::string(round * 3, 'b'));
    expected += "#";
  }
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    MessageScanner scanner;
    Recorder r;
    setup(r);
    ASSERT_TRUE(r.feed(scanner, stream.substr(0, cut)));
    ASSERT_TRUE(r.feed(scanner, stream.substr(cut)));
    EXPECT_EQ(r.output, expected) << cut;
    EXPECT_EQ(r.messages,
              (std::vector<std::string>{"b:", "d:", "b:bbb", "d:ddd", "b:bbbbbb", "d:dddddd"}))
        << cut;
  }
}

}  // namespace
}  // namespace pgquay::proto
