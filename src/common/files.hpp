// Writing files safely into folders others may share (--out, --cache): a temporary file created with
// mkstemp (O_CREAT | O_EXCL: a name planted beforehand, a symlink among them, is never opened), written
// whole, then renamed over the target.
#pragma once
#include <cstddef>
#include <string>

namespace sedenergy {

// An open temporary file "<target>.tmp.XXXXXX" beside `target`; closes (and removes, unless kept) on destruction.
class TempFile {
 public:
  explicit TempFile(const std::string& target);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  // Appends bytes; throws InputError naming the file when the disk is full or the write fails.
  void write(const void* data, std::size_t n);
  void write(const std::string& text) { write(text.data(), text.size()); }
  // Flushes to disk, closes and renames over the target; throws InputError naming it on failure.
  void commit();

 private:
  std::string target_, path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `text` to `path` whole or not at all (TempFile, then rename): a full disk leaves the old file,
// or none, and throws InputError naming the path; never a truncated file under the final name.
void write_file(const std::string& path, const std::string& text);

// Removes `path` and everything under it, never following a symbolic link (a link is removed, not its
// target); nothing at `path` is success. False, with the reason in `why`, when something stays.
// Not std::filesystem::remove_all: PyTorch's libtorch.so (the 2.11 wheels) carries its own copy of that
// symbol, which the dynamic linker binds first in a binary linked with it, and which jumps to address 0.
bool remove_tree(const std::string& path, std::string* why = nullptr);

}  // namespace sedenergy
