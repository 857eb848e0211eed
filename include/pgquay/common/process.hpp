// Process-level helpers: the process title shown by ps, and the fd sweep a new worker runs.
#pragma once

#include <string_view>
#include <vector>

namespace pgquay::process {

// Remembers where argv lives so set_title() can overwrite it. Call first thing in main().
void init_title(int argc, char** argv);
// Shows `title` in ps/top (truncated to the space argv had); also sets the thread name.
void set_title(std::string_view title);
// Closes every descriptor >= 3 except those in `keep`: a worker drops what it inherited from
// the main process (listeners, other clients' sockets, pooled server sockets) in one place.
void close_inherited_fds(const std::vector<int>& keep);

}  // namespace pgquay::process
