// Session settings carried from one server connection to the next (transaction pipeline).
#include "pgquay/pipeline/parameter_sync.hpp"

#include <gtest/gtest.h>

namespace pgquay::pipeline {
namespace {

TEST(ParameterSync, NothingToDoWhenTheConnectionAlreadyMatches) {
  ParameterMap reported{{"application_name", "app"}, {"DateStyle", "ISO, MDY"}};
  ParameterList settings{{"application_name", "app"}, {"search_path", "s1"}};
  auto plan = plan_parameter_sync(reported, reported, settings, {{"search_path", "s1"}});
  EXPECT_EQ(plan.sql, "");
  EXPECT_EQ(plan.applied, settings);
}

TEST(ParameterSync, SetsWhatDiffersAndResetsWhatThePreviousClientApplied) {
  ParameterMap view{{"application_name", "mine"}, {"server_version", "15"}};
  ParameterMap reported{{"application_name", "theirs"}, {"server_version", "16"}};
  ParameterList settings{{"application_name", "mine"}, {"search_path", "s1"}};
  ParameterList applied{{"application_name", "theirs"}, {"Work_Mem", "64MB"}};
  auto plan = plan_parameter_sync(view, reported, settings, applied);
  EXPECT_EQ(plan.sql,
            "SELECT pg_catalog.set_config('application_name', 'mine', false), "
            "pg_catalog.set_config('search_path', 's1', false); "
            "SELECT pg_catalog.set_config(s.name, s.reset_val, false) FROM pg_catalog.pg_settings "
            "s WHERE s.name IN ('work_mem')");
  EXPECT_EQ(plan.applied, settings);
}

TEST(ParameterSync, AReportedSettingTheClientChangedFollowsIt) {
  // The client ran SET application_name = 'later' and was told so.
  ParameterMap view{{"application_name", "later"}, {"TimeZone", "UTC"}};
  ParameterMap reported{{"application_name", "first"}, {"TimeZone", "Europe/Paris"}};
  ParameterList settings{{"application_name", "first"}};
  auto plan = plan_parameter_sync(view, reported, settings, settings);
  EXPECT_EQ(plan.sql,
            "SELECT pg_catalog.set_config('application_name', 'later', false), "
            "pg_catalog.set_config('TimeZone', 'UTC', false)");
  EXPECT_EQ(plan.applied, (ParameterList{{"application_name", "later"}}));
}

TEST(ParameterSync, BeforeLoginOnlyTheStartupParametersCount) {
  ParameterMap reported{{"DateStyle", "ISO, MDY"}};
  auto plan = plan_parameter_sync({}, reported, {{"datestyle", "ISO, MDY"}}, {});
  EXPECT_EQ(plan.sql, "");  // names compare case-insensitively
}

TEST(ParameterSync, ValuesAreQuotedAsLiterals) {
  auto plan = plan_parameter_sync({}, {}, {{"search_path", "o'brien"}}, {});
  EXPECT_EQ(plan.sql, "SELECT pg_catalog.set_config('search_path', 'o''brien', false)");
}

TEST(ParameterSync, AppliedSettingsRoundTripThroughTheSlot) {
  ParameterList applied{{"search_path", "a, b"}, {"statement_timeout", "5s"}, {"empty", ""}};
  EXPECT_EQ(decode_applied(encode_applied(applied)), applied);
  EXPECT_TRUE(decode_applied("").empty());
}

}  // namespace
}  // namespace pgquay::pipeline
