#include "pgquay/management/http.hpp"

#include <gtest/gtest.h>

namespace pgquay::management {
namespace {

TEST(Http, HeadSizeNeedsTheBlankLine) {
  EXPECT_EQ(http_head_size("GET / HTTP/1.1\r\nHost: x\r\n"), std::nullopt);
  EXPECT_EQ(http_head_size("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 27u);
  EXPECT_EQ(http_head_size("GET / HTTP/1.0\n\n"), 16u);
  EXPECT_EQ(http_head_size("GET / HTTP/1.1\r\n\r\nbody"), 18u);
}

TEST(Http, ParsesRequestLine) {
  auto request = parse_http_request("GET /metrics?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->method, "GET");
  EXPECT_EQ(request->path, "/metrics");
  EXPECT_EQ(request->version, "HTTP/1.1");
}

TEST(Http, AbsoluteUriKeepsItsPath) {
  auto request = parse_http_request("GET http://host:9/metrics HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->path, "/metrics");
  auto bare = parse_http_request("GET http://host:9 HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->path, "/");
}

TEST(Http, RejectsMalformedRequestLines) {
  EXPECT_FALSE(parse_http_request("GET /\r\n\r\n").has_value());
  EXPECT_FALSE(parse_http_request("GET / HTTP/2\r\n\r\n").has_value());
  EXPECT_FALSE(parse_http_request("GET metrics HTTP/1.1\r\n\r\n").has_value());
  EXPECT_FALSE(parse_http_request("GET  / HTTP/1.1\r\n\r\n").has_value());
  EXPECT_FALSE(parse_http_request("\r\n\r\n").has_value());
}

TEST(Http, ResponseHasLengthAndClose) {
  std::string response = http_response(404, "text/plain", "not found\n");
  EXPECT_EQ(response,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
            "Connection: close\r\n\r\nnot found\n");
  std::string head = http_response(200, "text/plain", "abc", true, "X-A: b\r\n");
  EXPECT_EQ(head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
            "Connection: close\r\nX-A: b\r\n\r\n");
}

}  // namespace
}  // namespace pgquay::management
