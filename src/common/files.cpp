#include "common/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/error.hpp"

namespace sedenergy {

TempFile::TempFile(const std::string& target) : target_(target) {
  std::vector<char> name(target.begin(), target.end());
  const std::string suffix = ".tmp.XXXXXX";
  name.insert(name.end(), suffix.begin(), suffix.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) throw InputError("cannot create a file beside " + target + ": " + std::strerror(errno));
  path_ = name.data();
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

}  // namespace sedenergy
