#include "span/fd.h"

#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace span {

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

void Mapping::reset() {
    if (addr_) ::munmap(addr_, len_);
    addr_ = nullptr;
    len_ = 0;
}

Result<Mapping> Mapping::map_shared(int fd, size_t len, size_t offset) {
    if (len == 0) return Error{EINVAL, "empty mapping"};
    void *p =
        ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset));
    if (p == MAP_FAILED) return Error::sys("mmap");
    return Mapping(p, len);
}

Result<UniqueFd> make_eventfd() {
    int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return Error::sys("eventfd");
    return UniqueFd(fd);
}

Result<UniqueFd> make_memfd(const char *name, size_t size, bool huge) {
    unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
    if (huge) flags |= MFD_HUGETLB;
    UniqueFd fd(::memfd_create(name, flags));
    if (!fd) return Error::sys(huge ? "memfd_create(MFD_HUGETLB)" : "memfd_create");
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) return Error::sys("ftruncate");
    // Members must not be able to shrink (SIGBUS for everyone) or grow the
    // file.  Hugetlbfs on old kernels may refuse seals: not fatal there.
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 && !huge)
        return Error::sys("F_ADD_SEALS");
    return fd;
}

Result<size_t> fd_size(int fd) {
    struct stat st;
    if (::fstat(fd, &st) < 0) return Error::sys("fstat");
    return static_cast<size_t>(st.st_size);
}

}  // namespace span
