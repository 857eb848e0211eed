#include "pgquay/common/process.hpp"

#include <dirent.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace pgquay::process {
namespace {
// Set once in main() before anything else runs; the argv strings are ours to overwrite.
struct TitleArea {
  char* start = nullptr;
  size_t size = 0;
};
TitleArea& area() {
  static TitleArea a;
  return a;
}
}  // namespace

void init_title(int argc, char** argv) {
  if (argc <= 0) return;
  char* end = argv[0] + std::strlen(argv[0]);
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == end + 1) end = argv[i] + std::strlen(argv[i]);
  }
  area() = TitleArea{argv[0], static_cast<size_t>(end - argv[0])};
}

void set_title(std::string_view title) {
  std::string name(title.substr(0, 15));
  prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
  TitleArea& a = area();
  if (!a.start || a.size == 0) return;
  size_t n = std::min(title.size(), a.size);
  std::memcpy(a.start, title.data(), n);
  std::memset(a.start + n, '\0', a.size - n + 1);
}

void close_inherited_fds(const std::vector<int>& keep) {
  std::vector<int> doomed;
  if (DIR* dir = opendir("/proc/self/fd")) {
    int own = dirfd(dir);
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      int fd = std::atoi(e->d_name);
      if (fd < 3 || fd == own) continue;
      if (std::find(keep.begin(), keep.end(), fd) != keep.end()) continue;
      doomed.push_back(fd);
    }
    closedir(dir);
  }
  for (int fd : doomed) ::close(fd);
}

}  // namespace pgquay::process
