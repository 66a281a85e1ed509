// idmb_instant_ajp: an AJP 1.3 backend that answers at once, for the benchmark (bench/).
//
// It answers each FORWARD_REQUEST as soon as the request (and its body) has arrived: 200,
// `Content-Type: application/octet-stream`, `Content-Length: N`, `X-Route: ROUTE`, N bytes
// 0,1,...,255,0,1,... (the test webapp's /app/binary body), END_RESPONSE reuse. N is the
// query's `n=` or --body. A request body is read to its end the way Tomcat reads it (first
// packet unsolicited after a Content-Length, the rest by GET_BODY_CHUNK; without one, for POST
// and PUT, GET_BODY_CHUNK until the empty packet) and its length is sent back in
// `X-Body-Length`. `session=1` in the query adds `Set-Cookie: JSESSIONID=<hex>.ROUTE`. CPING
// gets CPONG. A wrong secret gets 403 and a closed connection, as from Tomcat.
//
// It is built on the core's container-side codec (idmb/ajp_backend.h). Epoll, one event loop
// per thread (--threads, default 2); every thread waits on every listening socket. A response
// body is encoded once per size and thread and then written from that cache with the head in
// one writev(), so per request it does one read and one write.
//
//   idmb_instant_ajp --listen PORT:ROUTE [--listen PORT:ROUTE ...] [--threads N] [--body N]
//                    [--secret S] [--packet-size N] [--stats FILE] [--max-seconds S]
//
// Listens on 127.0.0.1 only. SIGUSR1 writes per-port counters to --stats FILE as one JSON
// line (atomically, via rename) and then resets the peak of open connections: connections
// accepted, open now, peak open since the last SIGUSR1, requests, body bytes, errors and
// `seq` (how many times it wrote). SIGTERM/SIGINT, or --max-seconds (default 3600), end it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "idmb/ajp_backend.h"
#include "idmb/ajp_codec.h"

namespace {

namespace ajp = idmb::ajp;

constexpr std::uint64_t kMaxBody = 64u << 20;  // largest n= answered
constexpr std::size_t kMaxCachedSizes = 64;

struct Options {
  std::vector<std::pair<int, std::string>> listen;  // port, route
  int threads = 2;
  std::uint64_t body = 100;
  std::string secret;
  std::size_t packet_size = ajp::kMinPacketSize;
  std::string stats;
  int max_seconds = 3600;
};

// Per listening port; updated from every thread.
struct PortStats {
  int port = 0;
  std::string route;
  int fd = -1;
  std::atomic<std::uint64_t> accepted{0}, requests{0}, body_bytes{0}, errors{0}, cpings{0};
  std::atomic<std::int64_t> open{0}, peak_open{0};
};

struct Conn;
// What an epoll event points at: a listening socket or a connection.
struct Handle {
  bool listener;
  PortStats* port;
  Conn* conn;
};

struct Conn {
  int fd = -1;
  PortStats* port = nullptr;
  Handle handle{false, nullptr, nullptr};
  std::vector<std::uint8_t> in;  // unparsed input at [in_start, in_end)
  std::size_t in_start = 0, in_end = 0;
  // The current request, once its FORWARD_REQUEST was read.
  enum class State { Idle, Body } state = State::Idle;
  bool length_known = false;  // Content-Length > 0 (else: read until the empty packet)
  std::uint64_t body_left = 0, body_got = 0;
  std::uint64_t answer_size = 0;
  bool head_only = false, set_session = false;
  // Pending output: out[out_off..] then tail[tail_off..].
  std::vector<std::uint8_t> out;
  std::size_t out_len = 0, out_off = 0;
  const std::string* tail = nullptr;
  std::string own_tail;  // when the size cache is full
  std::size_t tail_off = 0;
  bool close_after = false;
  bool want_out = false;  // registered for EPOLLOUT
  ajp::ForwardRequest req;
  ajp::SendHeaders head;
};

std::atomic<bool> g_stop{false};
Options g_opt;
std::vector<std::unique_ptr<PortStats>> g_ports;
std::atomic<std::uint64_t> g_session_counter{0};

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "idmb_instant_ajp: %s\n", msg.c_str());
  std::exit(2);
}

bool parse_u64(std::string_view s, std::uint64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// The value of `key` in an a=1&b=2 query, or empty.
std::string_view query_param(std::string_view q, std::string_view key) {
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    if (part.size() > key.size() && part.substr(0, key.size()) == key && part[key.size()] == '=') {
      return part.substr(key.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return {};
}

void peak_max(std::atomic<std::int64_t>& peak, std::int64_t v) {
  std::int64_t cur = peak.load(std::memory_order_relaxed);
  while (v > cur && !peak.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {}
}

class Worker {
 public:
  Worker() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) die("epoll_create1: " + std::string(std::strerror(errno)));
    for (auto& p : g_ports) {
      auto* h = new Handle{true, p.get(), nullptr};
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLEXCLUSIVE;
      ev.data.ptr = h;
      if (epoll_ctl(ep_, EPOLL_CTL_ADD, p->fd, &ev) < 0) die("epoll_ctl listen: " + std::string(std::strerror(errno)));
    }
  }

  void run() {
    std::vector<epoll_event> events(256);
    while (!g_stop.load(std::memory_order_relaxed)) {
      int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 500);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("epoll_wait: " + std::string(std::strerror(errno)));
      }
      for (int i = 0; i < n; ++i) {
        auto* h = static_cast<Handle*>(events[i].data.ptr);
        if (h->listener) {
          accept_all(h->port);
        } else {
          on_event(h->conn, events[i].events);
        }
      }
    }
  }

 private:
  void accept_all(PortStats* port) {
    for (;;) {
      int fd = accept4(port->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN (another thread took it), or a transient error
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto* c = new Conn;
      c->fd = fd;
      c->port = port;
      c->handle = Handle{false, port, c};
      c->in.resize(2 * g_opt.packet_size + ajp::kHeaderSize);
      c->out.resize(g_opt.packet_size);
      c->head.headers.reserve(6);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = &c->handle;
      if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        ::close(fd);
        delete c;
        continue;
      }
      port->accepted.fetch_add(1, std::memory_order_relaxed);
      peak_max(port->peak_open, port->open.fetch_add(1, std::memory_order_relaxed) + 1);
    }
  }

  void close_conn(Conn* c) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    c->port->open.fetch_sub(1, std::memory_order_relaxed);
    delete c;
  }

  void on_event(Conn* c, std::uint32_t ev) {
    if (ev & (EPOLLHUP | EPOLLERR)) return close_conn(c);
    if (ev & EPOLLOUT) {
      if (!flush(c)) return close_conn(c);
    }
    if (ev & EPOLLIN) {
      if (pending(c)) return;  // finish writing first; input stays in the socket
      if (c->in_end == c->in.size()) {
        // Compact: a packet never exceeds packet_size, the buffer holds two.
        std::memmove(c->in.data(), c->in.data() + c->in_start, c->in_end - c->in_start);
        c->in_end -= c->in_start;
        c->in_start = 0;
      }
      ssize_t n = ::read(c->fd, c->in.data() + c->in_end, c->in.size() - c->in_end);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return close_conn(c);
      if (n > 0) c->in_end += static_cast<std::size_t>(n);
    }
    if (!process(c)) return close_conn(c);
  }

  static bool pending(const Conn* c) { return c->out_off < c->out_len || (c->tail && c->tail_off < c->tail->size()); }

  // Writes what is pending. False: the connection is to be closed.
  bool flush(Conn* c) {
    while (pending(c)) {
      iovec iov[2];
      int k = 0;
      if (c->out_off < c->out_len) iov[k++] = {c->out.data() + c->out_off, c->out_len - c->out_off};
      if (c->tail && c->tail_off < c->tail->size()) {
        iov[k++] = {const_cast<char*>(c->tail->data()) + c->tail_off, c->tail->size() - c->tail_off};
      }
      ssize_t n = ::writev(c->fd, iov, k);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return want_out(c, true);
        return false;
      }
      std::size_t w = static_cast<std::size_t>(n);
      std::size_t a = std::min(w, c->out_len - c->out_off);
      c->out_off += a;
      w -= a;
      if (c->tail) c->tail_off += w;
    }
    c->out_off = c->out_len = 0;
    c->tail = nullptr;
    c->tail_off = 0;
    if (c->close_after) return false;
    return want_out(c, false);
  }

  bool want_out(Conn* c, bool on) {
    if (c->want_out == on) return true;
    c->want_out = on;
    epoll_event ev{};
    ev.events = on ? EPOLLOUT : EPOLLIN;
    ev.data.ptr = &c->handle;
    return epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev) == 0;
  }

  // Appends a small packet (GET_BODY_CHUNK, CPONG) to the pending output.
  template <class Encode>
  void append(Conn* c, std::size_t size, Encode&& encode) {
    if (c->out.size() < c->out_len + size) c->out.resize(c->out_len + size);
    encode(std::span(c->out).subspan(c->out_len, size));
    c->out_len += size;
  }

  // Parses every complete packet in the input; false: close the connection.
  bool process(Conn* c) {
    while (!pending(c)) {
      const std::size_t avail = c->in_end - c->in_start;
      if (avail < ajp::kHeaderSize) break;
      const std::uint8_t* p = c->in.data() + c->in_start;
      auto len = ajp::decode_request_packet_header(std::span(p, ajp::kHeaderSize), g_opt.packet_size);
      if (!len) return protocol_error(c, len.error());
      if (avail < ajp::kHeaderSize + *len) break;
      std::span<const std::uint8_t> payload(p + ajp::kHeaderSize, *len);
      c->in_start += ajp::kHeaderSize + *len;
      bool ok = c->state == Conn::State::Body ? on_body(c, payload) : on_message(c, payload);
      if (!ok) return false;
      if (pending(c) && !flush(c)) return false;
    }
    if (c->in_start == c->in_end) c->in_start = c->in_end = 0;
    return true;
  }

  bool protocol_error(Conn* c, const std::string& what) {
    c->port->errors.fetch_add(1, std::memory_order_relaxed);
    std::fprintf(stderr, "idmb_instant_ajp: port %d: %s; closing\n", c->port->port, what.c_str());
    return false;
  }

  bool on_message(Conn* c, std::span<const std::uint8_t> payload) {
    switch (ajp::classify_request_message(payload)) {
      case ajp::RequestMessage::Cping:
        c->port->cpings.fetch_add(1, std::memory_order_relaxed);
        append(c, ajp::kCpongSize, [](std::span<std::uint8_t> o) { ajp::encode_cpong(o); });
        return true;
      case ajp::RequestMessage::ForwardRequest: break;
      default: return protocol_error(c, "unexpected message type " + std::to_string(payload.empty() ? -1 : payload[0]));
    }
    if (auto s = ajp::decode_forward_request(payload, c->req); !s) return protocol_error(c, s.error());
    const ajp::ForwardRequest& r = c->req;
    c->port->requests.fetch_add(1, std::memory_order_relaxed);
    if (!g_opt.secret.empty() && r.secret != std::string_view(g_opt.secret)) {
      c->port->errors.fetch_add(1, std::memory_order_relaxed);
      return answer(c, 403, 0, true);
    }
    // Everything the answer needs is copied out now: the views die with the next read.
    c->answer_size = g_opt.body;
    c->set_session = false;
    if (r.query_string) {
      std::uint64_t n;
      if (parse_u64(query_param(*r.query_string, "n"), n)) c->answer_size = std::min(n, kMaxBody);
      c->set_session = query_param(*r.query_string, "session") == "1";
    }
    c->head_only = r.method == "HEAD";
    std::uint64_t length = 0;
    bool has_length = false;
    for (const auto& h : r.headers) {
      if (iequals(h.name, "content-length")) {
        if (!parse_u64(h.value, length)) return answer(c, 400, 0, true);
        has_length = true;
      }
    }
    c->body_got = 0;
    if (has_length && length > 0) {
      // The first body packet comes unsolicited.
      c->state = Conn::State::Body;
      c->length_known = true;
      c->body_left = length;
      return true;
    }
    if (!has_length && (r.method == "POST" || r.method == "PUT")) {
      c->state = Conn::State::Body;
      c->length_known = false;
      ask_body(c);
      return true;
    }
    return answer(c, 200, c->answer_size, false);
  }

  void ask_body(Conn* c) {
    const auto want = static_cast<std::uint16_t>(ajp::max_request_body_chunk(g_opt.packet_size));
    append(c, ajp::kGetBodyChunkSize, [want](std::span<std::uint8_t> o) { ajp::encode_get_body_chunk(want, o); });
  }

  bool on_body(Conn* c, std::span<const std::uint8_t> payload) {
    auto data = ajp::decode_request_body_chunk(payload);
    if (!data) return protocol_error(c, data.error());
    const std::size_t n = data->size();
    c->body_got += n;
    c->port->body_bytes.fetch_add(n, std::memory_order_relaxed);
    if (c->length_known) {
      if (n == 0 || n > c->body_left) {
        c->state = Conn::State::Idle;
        c->port->errors.fetch_add(1, std::memory_order_relaxed);
        return answer(c, 400, 0, true);
      }
      c->body_left -= n;
      if (c->body_left > 0) {
        ask_body(c);
        return true;
      }
    } else if (n > 0) {
      ask_body(c);
      return true;
    }
    c->state = Conn::State::Idle;
    return answer(c, 200, c->answer_size, false);
  }

  // The cached body packets and END_RESPONSE for `size` bytes (reuse), or END_RESPONSE alone.
  const std::string& tail_for(Conn* c, std::uint64_t size, bool reuse) {
    const std::uint64_t key = (size << 1) | (reuse ? 1 : 0);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    std::string t;
    std::vector<std::uint8_t> chunk(g_opt.packet_size);
    std::vector<std::uint8_t> data(ajp::max_response_body_chunk(g_opt.packet_size));
    for (std::uint64_t off = 0; off < size;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), size - off));
      for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::uint8_t>(off + i);
      auto w = ajp::encode_send_body_chunk(std::span(data).first(n), chunk);
      if (!w) die(w.error());
      t.append(reinterpret_cast<const char*>(chunk.data()), *w);
      off += n;
    }
    std::uint8_t end[ajp::kEndResponseSize];
    ajp::encode_end_response(reuse, end);
    t.append(reinterpret_cast<const char*>(end), sizeof end);
    if (cache_.size() >= kMaxCachedSizes) {
      // A benchmark asks for a handful of sizes; anything else is built per request.
      c->own_tail = std::move(t);
      return c->own_tail;
    }
    return cache_.emplace(key, std::move(t)).first->second;
  }

  bool answer(Conn* c, int status, std::uint64_t size, bool close) {
    char length[24], got[24], cookie[96];
    auto lr = std::to_chars(length, length + sizeof length, size);
    auto gr = std::to_chars(got, got + sizeof got, c->body_got);
    ajp::SendHeaders& h = c->head;
    h.status = static_cast<std::uint16_t>(status);
    h.reason = status == 200 ? "OK" : status == 403 ? "Forbidden" : "Bad Request";
    h.headers.clear();
    h.headers.push_back({"Content-Type", "application/octet-stream"});
    h.headers.push_back({"Content-Length", std::string_view(length, static_cast<std::size_t>(lr.ptr - length))});
    h.headers.push_back({"X-Route", c->port->route});
    if (c->body_got > 0)
      h.headers.push_back({"X-Body-Length", std::string_view(got, static_cast<std::size_t>(gr.ptr - got))});
    if (c->set_session && status == 200) {
      int n =
          std::snprintf(cookie, sizeof cookie, "JSESSIONID=%016llX.%s; Path=/; HttpOnly",
                        static_cast<unsigned long long>(g_session_counter.fetch_add(1) + 1), c->port->route.c_str());
      h.headers.push_back({"Set-Cookie", std::string_view(cookie, static_cast<std::size_t>(std::max(n, 0)))});
    }
    if (c->out.size() < c->out_len + g_opt.packet_size) c->out.resize(c->out_len + g_opt.packet_size);
    auto w = ajp::encode_send_headers(h, std::span(c->out).subspan(c->out_len, g_opt.packet_size));
    if (!w) return protocol_error(c, "encoding the answer: " + w.error());
    c->out_len += *w;
    c->tail = &tail_for(c, c->head_only ? 0 : size, !close);
    c->tail_off = 0;
    c->close_after = close;
    c->body_got = 0;
    return true;
  }

  int ep_ = -1;
  std::unordered_map<std::uint64_t, std::string> cache_;
};

// Appends only: GCC 12 at -O3 warns falsely (-Wrestrict, PR 105651) on "literal" + std::string.
void add_field(std::string& s, const char* name, std::int64_t v, bool comma = true) {
  if (comma) s.push_back(',');
  s.push_back('"');
  s.append(name);
  s.append("\":");
  s.append(std::to_string(v));
}

void write_stats(std::uint64_t seq) {
  if (g_opt.stats.empty()) return;
  std::string s = "{";
  add_field(s, "seq", static_cast<std::int64_t>(seq), false);
  add_field(s, "pid", getpid());
  s.append(",\"ports\":{");
  bool first = true;
  for (auto& p : g_ports) {
    if (!first) s.push_back(',');
    first = false;
    const std::int64_t open = p->open.load();
    // Reset the peak to what is open now: the next SIGUSR1 reports the peak in between.
    const std::int64_t peak = p->peak_open.exchange(open);
    s.push_back('"');
    s.append(std::to_string(p->port));
    s.append("\":{\"route\":\"");
    s.append(p->route);
    s.push_back('"');
    add_field(s, "accepted", static_cast<std::int64_t>(p->accepted.load()));
    add_field(s, "open", open);
    add_field(s, "peak_open", std::max(peak, open));
    add_field(s, "requests", static_cast<std::int64_t>(p->requests.load()));
    add_field(s, "body_bytes", static_cast<std::int64_t>(p->body_bytes.load()));
    add_field(s, "cpings", static_cast<std::int64_t>(p->cpings.load()));
    add_field(s, "errors", static_cast<std::int64_t>(p->errors.load()));
    s.push_back('}');
  }
  s.append("}}\n");
  std::string tmp = g_opt.stats;
  tmp.append(".tmp");
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fwrite(s.data(), 1, s.size(), f);
    std::fclose(f);
    std::rename(tmp.c_str(), g_opt.stats.c_str());
  }
}

int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket: " + std::string(std::strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    die("bind 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  }
  if (listen(fd, 4096) < 0) die("listen: " + std::string(std::strerror(errno)));
  return fd;
}

void usage() {
  std::fprintf(stderr,
               "usage: idmb_instant_ajp --listen PORT:ROUTE [--listen PORT:ROUTE ...] [--threads N]\n"
               "                        [--body N] [--secret S] [--packet-size N] [--stats FILE]\n"
               "                        [--max-seconds S]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    std::uint64_t n = 0;
    if (a == "--listen") {
      std::string_view v = value();
      std::size_t colon = v.find(':');
      if (colon == std::string_view::npos || !parse_u64(v.substr(0, colon), n) || n == 0 || n > 65535) usage();
      o.listen.emplace_back(static_cast<int>(n), std::string(v.substr(colon + 1)));
    } else if (a == "--threads") {
      if (!parse_u64(value(), n) || n < 1 || n > 64) usage();
      o.threads = static_cast<int>(n);
    } else if (a == "--body") {
      if (!parse_u64(value(), n) || n > kMaxBody) usage();
      o.body = n;
    } else if (a == "--secret") {
      o.secret = std::string(value());
    } else if (a == "--packet-size") {
      if (!parse_u64(value(), n) || n < ajp::kMinPacketSize || n > ajp::kMaxPacketSize) usage();
      o.packet_size = n;
    } else if (a == "--stats") {
      o.stats = std::string(value());
    } else if (a == "--max-seconds") {
      if (!parse_u64(value(), n) || n < 1) usage();
      o.max_seconds = static_cast<int>(n);
    } else {
      usage();
    }
  }
  if (o.listen.empty()) usage();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  g_opt = parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // the threads inherit it; main waits for them

  for (auto& [port, route] : g_opt.listen) {
    auto p = std::make_unique<PortStats>();
    p->port = port;
    p->route = route;
    p->fd = listen_on(port);
    g_ports.push_back(std::move(p));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < g_opt.threads; ++i) {
    threads.emplace_back([] { Worker().run(); });
  }
  std::uint64_t seq = 0;
  write_stats(seq);
  std::fprintf(stderr, "idmb_instant_ajp: listening on %zu port(s), %d thread(s)\n", g_ports.size(), g_opt.threads);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(g_opt.max_seconds);
  for (;;) {
    timespec ts{0, 200 * 1000 * 1000};
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGUSR1) {
      write_stats(++seq);
    } else if (sig == SIGTERM || sig == SIGINT) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "idmb_instant_ajp: --max-seconds %d reached, exiting\n", g_opt.max_seconds);
      break;
    }
  }
  g_stop = true;
  write_stats(++seq);
  std::_Exit(0);  // the event loops hold no state worth a clean shutdown
}
