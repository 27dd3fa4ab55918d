#include "common/files.hpp"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace sedenergy {

namespace {
// The umask, read without changing it (umask(2) can only set it, a race with other threads' creates).
mode_t process_umask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8));
  }
  return 022;
}
}  // namespace

TempFile::TempFile(const std::string& target) : target_(target) {
  std::vector<char> name(target.begin(), target.end());
  const std::string suffix = ".tmp.XXXXXX";
  name.insert(name.end(), suffix.begin(), suffix.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) throw InputError("cannot create a file beside " + target + ": " + std::strerror(errno));
  path_ = name.data();
  // mkstemp makes the file 0600; the finished file gets the mode an ordinary create would give it.
  // The umask is read once: sedenergy never changes it.
  static const mode_t umask = process_umask();
  (void)::fchmod(fd_, 0666 & ~umask);
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(path_.c_str());
}

void TempFile::write(const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw InputError("cannot write " + target_ + ": " + std::strerror(w < 0 ? errno : ENOSPC));
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void TempFile::commit() {
  if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
    fd_ = -1;
    throw InputError("cannot write " + target_ + ": " + std::strerror(errno));
  }
  fd_ = -1;
  if (std::rename(path_.c_str(), target_.c_str()) != 0) {
    throw InputError("cannot replace " + target_ + ": " + std::strerror(errno));
  }
  committed_ = true;
}

void write_file(const std::string& path, const std::string& text) {
  TempFile file(path);
  file.write(text);
  file.commit();
}

namespace {
int remove_entry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path) == 0 ? 0 : errno; }
}  // namespace

bool remove_tree(const std::string& path, std::string* why) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;
    if (why) *why = std::strerror(errno);
    return false;
  }
  // Depth first (contents before their folder), physical (links are entries, never followed).
  const int rc = ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (rc != 0 && why) *why = std::strerror(rc > 0 ? rc : errno);
  return rc == 0;
}

}  // namespace sedenergy
