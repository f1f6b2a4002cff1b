// Move-only RAII handles for file descriptors and memory mappings.
#pragma once

#include <cstddef>
#include <utility>

#include "span/result.h"

namespace span {

// Owns one file descriptor (or none: -1).  Closing happens exactly once.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd &operator=(UniqueFd &&o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd &) = delete;
    UniqueFd &operator=(const UniqueFd &) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1);

  private:
    int fd_ = -1;
};

// Owns one mmap()ed region.
class Mapping {
  public:
    Mapping() = default;
    Mapping(void *addr, size_t len) : addr_(addr), len_(len) {}
    Mapping(Mapping &&o) noexcept
        : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
    Mapping &operator=(Mapping &&o) noexcept {
        if (this != &o) {
            reset();
            addr_ = std::exchange(o.addr_, nullptr);
            len_ = std::exchange(o.len_, 0);
        }
        return *this;
    }
    Mapping(const Mapping &) = delete;
    Mapping &operator=(const Mapping &) = delete;
    ~Mapping() { reset(); }

    // Maps len bytes of fd shared read/write.
    static Result<Mapping> map_shared(int fd, size_t len, size_t offset = 0);

    void *data() const { return addr_; }
    unsigned char *bytes() const { return static_cast<unsigned char *>(addr_); }
    size_t size() const { return len_; }
    bool valid() const { return addr_ != nullptr; }
    void reset();

  private:
    void *addr_ = nullptr;
    size_t len_ = 0;
};

// Creates an eventfd (non-blocking, close-on-exec).
Result<UniqueFd> make_eventfd();
// Creates a sealed-size memfd of `size` bytes; huge: MFD_HUGETLB.
Result<UniqueFd> make_memfd(const char *name, size_t size, bool huge);
// Size of the file behind fd.
Result<size_t> fd_size(int fd);

}  // namespace span
