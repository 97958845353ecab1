// A file in memory that a harness rewrites with each input, for the readers that take a path.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace tapeloop::fuzz {

/// A memfd, opened by the readers as /proc/self/fd/N: no disk, nothing left behind, and a
/// fresh open of it reads from the start, as the open of a real file does.
class InputFile {
 public:
  InputFile() : fd_(::memfd_create("tapeloop-fuzz-input", MFD_CLOEXEC)) {
    if (fd_ < 0) fatal("memfd_create");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile() { ::close(fd_); }

  /// Replaces the contents with `size` bytes at `data`; returns the path to read them by.
  const std::filesystem::path& write(const std::uint8_t* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0) fatal("ftruncate");
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) fatal("pwrite");
      done += static_cast<std::size_t>(n);
    }
    return path_;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  // The harness's own failure, not the reader's: stop with the system's reason.
  [[noreturn]] static void fatal(const char* what) {
    std::perror(what);
    std::abort();
  }

  int fd_;
  std::filesystem::path path_;
};

}  // namespace tapeloop::fuzz
