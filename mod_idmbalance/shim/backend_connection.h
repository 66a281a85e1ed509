// One AJP connection to a Tomcat member (a POSIX socket with a small read buffer), and the
// per-child pool of idle connections shared by the child's threads.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "idmb/ajp_codec.h"
#include "idmb/forwarder.h"

namespace idmb::shim {

using Clock = std::chrono::steady_clock;

class BackendConnection final : public forward::BackendStream {
 public:
  // Connects with a timeout; on failure returns nullptr and sets `error`, and `local` when
  // the cause is this process (no descriptor, no local port, no buffers), not the backend.
  static std::unique_ptr<BackendConnection> open(const sockaddr_storage& addr, socklen_t addr_len,
                                                 std::uint32_t timeout_ms, std::string& error, bool& local);
  ~BackendConnection() override;
  BackendConnection(const BackendConnection&) = delete;
  BackendConnection& operator=(const BackendConnection&) = delete;

  forward::IoStatus write_all(std::span<const std::uint8_t> data) override;
  forward::IoStatus read_exact(std::span<std::uint8_t> out) override;
  void set_timeout_ms(std::uint32_t ms) override;
  bool has_buffered_input() const override { return has_unread_input(); }

  // False if the peer closed the connection or sent bytes nobody asked for: such a
  // connection must never carry another request (its bytes would reach the wrong client).
  bool idle_and_clean();
  bool has_unread_input() const { return read_pos_ < read_end_; }

  Clock::time_point last_used;

 private:
  explicit BackendConnection(int fd);
  int fd_;
  std::uint32_t timeout_ms_ = 0;
  // Not zero-filled: only the pages recv() writes become resident. Zeroed, each new connection
  // (Tomcat restarts make many) cost 64 KiB of RSS that glibc's per-thread arenas kept after it
  // closed: a child grew by 3 MB before levelling off, 1 MB without the zeroing.
  static constexpr std::size_t kReadBufSize = ajp::kMaxPacketSize + 8;
  std::unique_ptr<std::uint8_t[]> read_buf_;
  std::size_t read_pos_ = 0;
  std::size_t read_end_ = 0;
};

class ConnectionPool {
 public:
  void configure(std::size_t max_idle, std::uint32_t idle_timeout_ms) {
    max_idle_ = max_idle;
    idle_timeout_ = std::chrono::milliseconds(idle_timeout_ms);
  }
  // The most recently used idle connection, or nullptr. Expired ones are closed on the way.
  std::unique_ptr<BackendConnection> take();
  // Keeps the connection for reuse if there is room; closes it otherwise.
  void give_back(std::unique_ptr<BackendConnection> connection);
  // Closes every idle connection (after one of them failed a CPING, the rest are suspect).
  void clear();

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<BackendConnection>> idle_;
  std::size_t max_idle_ = 8;
  Clock::duration idle_timeout_ = std::chrono::seconds(60);
};

}  // namespace idmb::shim
