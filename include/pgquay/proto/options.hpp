// The `options` startup parameter ("-c geqo=off --search-path=app"): the settings a backend would
// apply from it, so a pooler can send them as SET statements or compare them between clients.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgquay/proto/error.hpp"

namespace pgquay::proto {

// Splits `options` like PostgreSQL's pg_split_opts (whitespace separates words; a backslash makes
// the next byte literal, so "\ " keeps a space and "\\" is one backslash) and reads the words like
// the backend's switch parser: `-c name=value`, `-cname=value` and `--name=value`, with dashes in
// the name turned into underscores (ParseLongOption). A word "--" ends the switches. Returns the
// (name, value) pairs in order.
//
// Errors, with PostgreSQL's wording where it has one:
//  - "-c name requires a value" / "--name requires a value" (42601) when there is no '=';
//  - "invalid command-line argument for server process: X" (42601) for a word that is not a
//    switch, an unknown switch or a -c without its argument;
//  - "unrecognized configuration parameter \"\"" (42704) for an empty name ("-c =x");
//  - 0A000 for the other switches a backend knows (-e, -S 1024, ...): pgquay does not translate
//    them into settings.
ProtoResult<std::vector<std::pair<std::string, std::string>>> parse_startup_options(
    std::string_view options);

}  // namespace pgquay::proto
