// The files shipped in the repository: the examples in conf/ load, and doc/CONFIGURATION.md is
// what pgquay-config-doc prints. PGQUAY_SOURCE_ROOT is set by test/unit/config/meson.build.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "pgquay/config/config.hpp"
#include "pgquay/config/databases.hpp"
#include "pgquay/config/hba.hpp"
#include "pgquay/config/reference.hpp"

namespace pgquay::config {
namespace {

std::string source_path(const std::string& relative) {
  return std::string(PGQUAY_SOURCE_ROOT) + "/" + relative;
}

TEST(ExampleFiles, PgquayConf) {
  auto c = load_main_config(source_path("conf/pgquay.conf"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->warnings.empty()) << c->warnings.front();
  EXPECT_EQ(c->main.host, "localhost");
  EXPECT_EQ(c->main.port, 2345);
  EXPECT_EQ(c->main.log_type, LogType::console);
  EXPECT_EQ(c->main.pipeline, Pipeline::automatic);
  ASSERT_EQ(c->servers.size(), 1u);
  EXPECT_EQ(c->servers[0].name, "primary");
  EXPECT_EQ(c->servers[0].host, "localhost");
  EXPECT_EQ(c->servers[0].port, 5432);
}

TEST(ExampleFiles, HbaConf) {
  auto rules = load_hba_file(source_path("conf/pgquay_hba.conf"));
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ((*rules)[0].type, HbaType::host);
  EXPECT_EQ((*rules)[0].method, HbaMethod::trust);
  EXPECT_NE(match(*rules, ConnKind::unix_socket, "postgres", "postgres", nullptr), nullptr);
}

TEST(ExampleFiles, DatabasesConf) {
  auto d = load_databases_file(source_path("conf/pgquay_databases.conf"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->limits.empty());
  // The commented example line is valid when uncommented.
  std::ifstream in(source_path("conf/pgquay_databases.conf"));
  std::string line;
  std::string examples;
  while (std::getline(in, line)) {
    if (line.rfind("# ", 0) == 0 && line.find("=prod") != std::string::npos) {
      examples += line.substr(2) + "\n";
    }
  }
  auto uncommented = parse_databases_string(examples, "example");
  ASSERT_TRUE(uncommented) << uncommented.error().message;
  EXPECT_EQ(uncommented->limits.size(), 1u);
}

TEST(Reference, DocMatchesTheKeyTable) {
  std::ifstream in(source_path("doc/CONFIGURATION.md"));
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(text.str() == render_configuration_reference())
      << "doc/CONFIGURATION.md is out of date with src/config. Regenerate it:\n"
         "  ninja -C <build> src/config/pgquay-config-doc && "
         "<build>/src/config/pgquay-config-doc > doc/CONFIGURATION.md";
}

TEST(Reference, ListsEveryKey) {
  std::string doc = render_configuration_reference();
  for (const auto& key : list_keys()) {
    EXPECT_NE(doc.find("| `" + key + "` |"), std::string::npos) << key;
  }
  EXPECT_NE(doc.find("| `libev` |"), std::string::npos);
  EXPECT_NE(doc.find("## pgquay_hba.conf"), std::string::npos);
  EXPECT_NE(doc.find("## pgquay_databases.conf"), std::string::npos);
}

// The first ``` block after `heading` in the reference.
std::string example_after(const std::string& doc, const std::string& heading) {
  auto at = doc.find(heading);
  auto open = doc.find("```\n", at);
  auto close = doc.find("```", open + 4);
  if (at == std::string::npos || open == std::string::npos || close == std::string::npos) return "";
  return doc.substr(open + 4, close - open - 4);
}

TEST(Reference, ExamplesParse) {
  std::string doc = render_configuration_reference();
  auto hba = parse_hba_string(example_after(doc, "## pgquay_hba.conf"), "doc hba example");
  ASSERT_TRUE(hba) << hba.error().message;
  EXPECT_EQ(hba->size(), 5u);
  auto dbs = parse_databases_string(example_after(doc, "## pgquay_databases.conf"),
                                    "doc databases example");
  ASSERT_TRUE(dbs) << dbs.error().message;
  EXPECT_EQ(dbs->limits.size(), 3u);
}

}  // namespace
}  // namespace pgquay::config
