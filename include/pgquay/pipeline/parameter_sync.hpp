// Session settings in the transaction pipeline: each transaction may run on a server connection
// last used by another client, so before the client's first message goes there, the connection
// is made to look the way this client expects.
//
// Two kinds of settings:
//  - reported: PostgreSQL sends ParameterStatus for them (application_name, DateStyle, TimeZone,
//    client_encoding, IntervalStyle, ...). The connection's current values are known from its
//    slot; the client's are what it was last told (at login, or by a ParameterStatus after its
//    own SET). Any difference is set.
//  - not reported (search_path on PostgreSQL 15, statement_timeout, work_mem, ... from the
//    client's startup packet or `options`): the slot records the settings pgquay applied for the
//    previous client; this client's differing ones are set, the previous client's others reset
//    to the server's (or role's) default. A SET the client ran itself on such a setting is not
//    seen (documented as unsafe in the transaction pipeline, as in every transaction pooler).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgquay::pipeline {

using ParameterMap = std::map<std::string, std::string, std::less<>>;
using ParameterList = std::vector<std::pair<std::string, std::string>>;

// Reported parameters that describe the server or the login rather than the session.
bool is_fixed_parameter(std::string_view name);

// The slot's record of applied settings: name NUL value NUL ...
std::string encode_applied(const ParameterList& applied);
ParameterList decode_applied(std::string_view bytes);

struct ParameterSync {
  std::string sql;        // one simple Query (up to two statements); empty: nothing differs
  ParameterList applied;  // what the slot records once the SQL has run
};

// client_view: the reported values the client was told (empty before its login completes);
// server_reported: the connection's reported values; client_settings: the client's startup
// parameters; server_applied: the slot's record. Names compare case-insensitively.
ParameterSync plan_parameter_sync(const ParameterMap& client_view,
                                  const ParameterMap& server_reported,
                                  const ParameterList& client_settings,
                                  const ParameterList& server_applied);

}  // namespace pgquay::pipeline
