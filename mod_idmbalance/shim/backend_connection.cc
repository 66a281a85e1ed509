#include "backend_connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace idmb::shim {

using forward::IoStatus;

namespace {

IoStatus io_error_status(int err) {
  return (err == EAGAIN || err == EWOULDBLOCK) ? IoStatus::Timeout : IoStatus::Error;
}

bool is_local_errno(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || err == EADDRNOTAVAIL;
}

}  // namespace

std::unique_ptr<BackendConnection> BackendConnection::open(const sockaddr_storage& addr, socklen_t addr_len,
                                                           std::uint32_t timeout_ms, std::string& error, bool& local) {
  local = false;
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    local = true;
    return nullptr;
  }
  auto connection = std::unique_ptr<BackendConnection>(new BackendConnection(fd));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
    if (errno != EINPROGRESS) {
      local = is_local_errno(errno);
      error = std::strerror(errno);
      return nullptr;
    }
    pollfd p{fd, POLLOUT, 0};
    int ready;
    do {
      ready = ::poll(&p, 1, static_cast<int>(timeout_ms));
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) {
      error = "connect timed out";
      return nullptr;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (ready < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
      error = std::strerror(so_error != 0 ? so_error : errno);
      return nullptr;
    }
  }
  // Blocking I/O with SO_RCVTIMEO/SO_SNDTIMEO: one syscall per read, timeouts still apply.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // AJP packets are small and answered
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  connection->last_used = Clock::now();
  return connection;
}

BackendConnection::BackendConnection(int fd)
    : fd_(fd), read_buf_(std::make_unique_for_overwrite<std::uint8_t[]>(kReadBufSize)) {}

BackendConnection::~BackendConnection() { ::close(fd_); }

void BackendConnection::set_timeout_ms(std::uint32_t ms) {
  if (ms == timeout_ms_) {
    return;
  }
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  timeout_ms_ = ms;
}

IoStatus BackendConnection::write_all(std::span<const std::uint8_t> data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error_status(errno);
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return IoStatus::Ok;
}

IoStatus BackendConnection::read_exact(std::span<std::uint8_t> out) {
  while (!out.empty()) {
    if (read_pos_ == read_end_) {
      ssize_t n = ::recv(fd_, read_buf_.get(), kReadBufSize, 0);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return io_error_status(errno);
      }
      if (n == 0) {
        return IoStatus::Eof;
      }
      read_pos_ = 0;
      read_end_ = static_cast<std::size_t>(n);
    }
    std::size_t take = std::min(out.size(), read_end_ - read_pos_);
    std::memcpy(out.data(), read_buf_.get() + read_pos_, take);
    read_pos_ += take;
    out = out.subspan(take);
  }
  return IoStatus::Ok;
}

bool BackendConnection::idle_and_clean() {
  if (has_unread_input()) {
    return false;
  }
  pollfd p{fd_, POLLIN, 0};
  int ready = ::poll(&p, 1, 0);
  // Readable while idle means EOF, a reset, or stray bytes: all make the connection unusable.
  return ready == 0;
}

std::unique_ptr<BackendConnection> ConnectionPool::take() {
  std::vector<std::unique_ptr<BackendConnection>> expired;  // closed outside the lock
  std::unique_ptr<BackendConnection> found;
  {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    while (!idle_.empty()) {
      auto candidate = std::move(idle_.back());
      idle_.pop_back();
      if (now - candidate->last_used < idle_timeout_) {
        found = std::move(candidate);
        break;
      }
      expired.push_back(std::move(candidate));
    }
  }
  return found;
}

void ConnectionPool::clear() {
  std::vector<std::unique_ptr<BackendConnection>> closing;
  std::lock_guard lock(mutex_);
  closing.swap(idle_);
}

void ConnectionPool::give_back(std::unique_ptr<BackendConnection> connection) {
  if (connection->has_unread_input()) {
    return;  // bytes after END_RESPONSE: never reuse
  }
  auto now = Clock::now();
  connection->last_used = now;
  std::lock_guard lock(mutex_);
  // The oldest idle connection sits at the front; retire it once it has expired so that
  // a quiet child does not hold connections forever.
  if (!idle_.empty() && now - idle_.front()->last_used >= idle_timeout_) {
    idle_.erase(idle_.begin());
  }
  if (idle_.size() < max_idle_) {
    idle_.push_back(std::move(connection));
  }
  // Otherwise the connection closes as it goes out of scope.
}

}  // namespace idmb::shim
