// Small typed error results for libspan (g++ 12 has no std::expected).
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace span {

// An error: a negative-errno style code plus a human-readable message.
// code is always > 0 (an errno value).
struct Error {
    int code = EINVAL;
    std::string msg;

    static Error sys(const std::string &what, int err = errno) {
        return Error{err, what + ": " + std::strerror(err)};
    }
    std::string str() const { return msg.empty() ? std::strerror(code) : msg; }
};

// Result<T>: either a value or an Error.  Accessing value() of an error
// result is a programming error (asserted by std::get).
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T v) : v_(std::move(v)) {}
    Result(Error e) : v_(std::move(e)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T &value() & { return std::get<0>(v_); }
    T &&value() && { return std::get<0>(std::move(v_)); }
    const T &value() const & { return std::get<0>(v_); }
    T *operator->() { return &value(); }
    T &operator*() & { return value(); }
    const Error &error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error e) : err_(std::move(e)), ok_(false) {}

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error &error() const { return err_; }

  private:
    Error err_;
    bool ok_ = true;
};

using Status = Result<void>;

}  // namespace span

// Propagate an error from an expression returning Result<...>.
#define SPAN_TRY(expr)                                     \
    do {                                                   \
        auto span_try_r_ = (expr);                         \
        if (!span_try_r_.ok()) return span_try_r_.error(); \
    } while (0)
