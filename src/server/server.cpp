#include "pgquay/server/server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "pgquay/build_config.hpp"
#include "pgquay/common/log.hpp"
#include "pgquay/common/process.hpp"
#include "pgquay/net/fd_passing.hpp"
#include "pgquay/net/socket.hpp"

namespace pgquay::server {

namespace {
// Descriptors the main process needs besides one per pooled connection and one per worker.
constexpr rlim_t kDescriptorReserve = 64;
// How often surplus idle workers (beyond prefork_workers) are asked to exit.
constexpr std::chrono::milliseconds kCacheTrimInterval{10000};
}  // namespace

Server::Server(ev::Loop& loop, worker::Context& context)
    : loop_(loop), context_(context), pool_(std::make_unique<PoolManager>(loop, context)) {}

Server::~Server() {
  if (is_child_) return;  // a worker: the files belong to the main process
  if (!unix_socket_path_.empty()) ::unlink(unix_socket_path_.c_str());
  if (!admin_socket_path_.empty()) ::unlink(admin_socket_path_.c_str());
  if (!pidfile_path_.empty()) ::unlink(pidfile_path_.c_str());
}

Result<void> Server::check_descriptor_limit() const {
  // Each io_uring worker's ring counts against RLIMIT_MEMLOCK (without CAP_IPC_LOCK): take what
  // the hard limit allows; a worker that still finds none uses epoll (and logs it).
  rlimit memlock{};
  if (getrlimit(RLIMIT_MEMLOCK, &memlock) == 0 && memlock.rlim_cur != memlock.rlim_max) {
    memlock.rlim_cur = memlock.rlim_max;
    (void)setrlimit(RLIMIT_MEMLOCK, &memlock);
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  // Each pooled connection and each worker's control channel costs main one descriptor.
  rlim_t needed =
      static_cast<rlim_t>(context_.config.main.max_connections) * 2 + kDescriptorReserve;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    if (limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= needed) {
      limit.rlim_cur = needed;
      if (setrlimit(RLIMIT_NOFILE, &limit) == 0) return {};
    }
    return fail("max_connections = " + std::to_string(context_.config.main.max_connections) +
                " needs " + std::to_string(needed) + " file descriptors but RLIMIT_NOFILE is " +
                std::to_string(limit.rlim_cur) + " (raise it with ulimit -n or LimitNOFILE=)");
  }
  return {};
}

Result<void> Server::write_pidfile() {
  std::string path = config::effective_pidfile(context_.config.main);
  for (int attempt = 0; attempt < 2; ++attempt) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd) {
      std::string text = std::to_string(getpid()) + "\n";
      if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return fail_errno("could not write pid file " + path);
      pidfile_path_ = path;
      return {};
    }
    if (errno != EEXIST) return fail_errno("could not create pid file " + path);
    // Someone left a pid file: refuse if that process still runs, else it is stale.
    char buf[32] = {};
    Fd old(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    ssize_t n = old ? ::read(old.get(), buf, sizeof(buf) - 1) : -1;
    long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM))
      return fail("pgquay is already running with pid " + std::to_string(pid) + " (pid file " +
                  path + ")");
    PGQ_WARN("removing stale pid file %s", path.c_str());
    ::unlink(path.c_str());
  }
  return fail("could not create pid file " + path);
}

Result<void> Server::open_listeners() {
  const auto& main = context_.config.main;
  int backlog = config::effective_backlog(main);
  auto tcp = net::listen_tcp(main.host, main.port, backlog);
  if (!tcp) return Unexpected(tcp.error());
  tcp_listeners_ = std::move(*tcp);
  auto unix_listener = net::listen_unix(main.unix_socket_dir, main.port, backlog);
  if (!unix_listener) return Unexpected(unix_listener.error());
  unix_listener_ = std::move(unix_listener->fd);
  unix_socket_path_ = unix_listener->path;
  for (const Fd& fd : tcp_listeners_) {
    acceptors_.push_back(std::make_unique<ev::Acceptor>(
        loop_, fd.get(), [this](Fd client) { on_client(std::move(client), false); }));
  }
  acceptors_.push_back(std::make_unique<ev::Acceptor>(
      loop_, unix_listener_.get(), [this](Fd client) { on_client(std::move(client), true); }));
  return {};
}

Result<void> Server::start() {
  // Signals are blocked (and queued for the loop) before anything can tell that pgquay runs: a
  // SIGHUP sent as soon as the pid file or a listener appears must reload, not kill.
  signals_ = std::make_unique<ev::SignalWatcher>(
      loop_, std::initializer_list<int>{SIGTERM, SIGINT, SIGTRAP, SIGCHLD, SIGHUP, SIGUSR1},
      [this](int signo) { on_signal(signo); });
  if (!signals_->ok()) return fail_errno("signalfd");
  if (auto ok = check_descriptor_limit(); !ok) return ok;
  if (auto ok = write_pidfile(); !ok) return ok;
  // Management first: once clients can connect, pgquay-cli and the metrics endpoint answer too.
  if (auto ok = open_management(); !ok) return ok;
  if (auto ok = open_listeners(); !ok) return ok;
  started_ms_ = pool::now_ms();
  cache_target_ =
      config::effective_prefork_workers(context_.config.main, std::thread::hardware_concurrency());
  trim_timer_ = std::make_unique<ev::Timer>(loop_, [this] { trim_cache(); });
  trim_timer_->start(kCacheTrimInterval, kCacheTrimInterval);
  const auto& main = context_.config.main;
  PGQ_INFO("pgquay %s started: listening on %s:%d and %s (%s backend, %s pipeline, %d connections)",
           PGQUAY_VERSION, main.host.c_str(), main.port, unix_socket_path_.c_str(),
           loop_.backend_name(), config::to_string(config::effective_pipeline(main)).data(),
           main.max_connections);
  return {};
}

Result<void> Server::run(std::optional<worker::WorkerStart>& worker) {
  worker_start_ = &worker;
  schedule_refill();
  process::set_title("pgquay: main");
  return loop_.run();
}

void Server::on_client(Fd client, bool unix_socket) {
  context_.shared->stats.clients_accepted.fetch_add(1);
  if (graceful_) return;  // closing: the client sees the connection end
  context_.shared->stats.clients_active.fetch_add(1);  // undone when its worker is idle or gone
  context_.shared->stats.sessions.fetch_add(1);
  if (hand_to_idle_worker(client)) {
    schedule_refill();
    return;
  }
  net::SocketAddress peer = net::peer_address(client.get());
  spawn_worker(worker::ClientHandoff{std::move(client), peer, unix_socket});
  if (is_child_) return;  // the new worker, unwinding: touch nothing of the parent's
  schedule_refill();
}

bool Server::hand_to_idle_worker(Fd& client) {
  while (!idle_workers_.empty()) {
    // The most recently idle worker (warm caches); the coldest ones stay at the front for trimming.
    pid_t pid = idle_workers_.back();
    idle_workers_.pop_back();
    auto it = workers_.find(pid);
    if (it == workers_.end()) continue;
    pool::ControlMessage message{};
    message.type = pool::ControlType::client;
    if (net::send_message(it->second.control.get(), &message, sizeof(message), client.get()) < 0)
      continue;  // it died meanwhile: reaping cleans up; try the next one
    it->second.idle = false;
    it->second.serving = true;
    it->second.serving_since_us = pool::now_us();
    client.reset();  // the worker has its own descriptor now
    return true;
  }
  return false;
}

void Server::spawn_worker(std::optional<worker::ClientHandoff> client) {
  auto channel = net::seqpacket_pair();
  if (!channel) {
    PGQ_ERROR("cannot start a worker: %s", channel.error().message.c_str());
    return;
  }
  bool for_cache = !client.has_value();
  pid_t pid = ::fork();
  if (pid < 0) {
    PGQ_ERROR("fork failed: %s%s", std::strerror(errno),
              for_cache ? "" : "; the client is refused");
    if (!for_cache) context_.shared->stats.clients_active.fetch_sub(1);
    return;
  }
  if (pid == 0) {
    // The worker: the fork hook first, then unwind out of the main loop; main() destroys this
    // Server (closing the listeners and everything else main owned) and runs the worker.
    is_child_ = true;
    if (auto ok = loop_.fork_child(); !ok) {
      PGQ_FATAL("worker: %s", ok.error().message.c_str());
      _exit(1);
    }
    *worker_start_ = worker::WorkerStart{std::move(channel->second), std::move(client)};
    loop_.break_loop();
    return;
  }
  WorkerEntry entry;
  entry.pid = pid;
  entry.control = std::move(channel->first);
  entry.idle = for_cache;
  entry.generation = generation_;
  entry.idle_since_ms = pool::now_ms();
  entry.serving = !for_cache;
  if (entry.serving) entry.serving_since_us = pool::now_us();
  int control_fd = entry.control.get();
  entry.watcher = std::make_unique<ev::ReadableWatcher>(loop_, control_fd, [this, pid] {
    auto it = workers_.find(pid);
    if (it != workers_.end()) drain_control(it->second, /*at_most_one=*/true);
  });
  workers_.emplace(pid, std::move(entry));
  if (for_cache) idle_workers_.push_back(pid);
}

void Server::schedule_refill() {
  if (graceful_ || static_cast<int>(idle_workers_.size()) >= cache_target_) return;
  if (!refill_timer_)
    refill_timer_ = std::make_unique<ev::Timer>(loop_, [this] { refill_cache(); });
  // Not now: after this batch of events, so a client being accepted never waits for a fork.
  if (!refill_timer_->active()) refill_timer_->start(std::chrono::milliseconds{1});
}

void Server::refill_cache() {
  while (!graceful_ && !loop_.stopping() &&
         static_cast<int>(idle_workers_.size()) < cache_target_) {
    spawn_worker(std::nullopt);
    if (is_child_) return;  // this is the new worker, unwinding
  }
}

void Server::session_ended(WorkerEntry& entry) {
  if (!entry.serving) return;
  context_.shared->stats.clients_active.fetch_sub(1);
  context_.shared->stats.session_time.observe(pool::kSessionBoundsUs,
                                              pool::now_us() - entry.serving_since_us);
  entry.serving = false;
}

void Server::on_worker_idle(WorkerEntry& entry) {
  session_ended(entry);
  pool_->forget_waiter(entry.pid);
  if (graceful_ || entry.reaped) {
    tell_worker_to_exit(entry);
    return;
  }
  if (entry.generation != generation_) {
    // Forked before a reload: it holds the old configuration, rules and passwords.
    tell_worker_to_exit(entry);
    schedule_refill();
    return;
  }
  // Every worker that comes back is kept, so steady churn at any concurrency forks nothing;
  // trim_cache() gives back what stays unused.
  entry.idle = true;
  entry.idle_since_ms = pool::now_ms();
  idle_workers_.push_back(entry.pid);
}

void Server::trim_cache() {
  // Beyond prefork_workers, a worker idle for a whole trim interval is not needed any more.
  int64_t cutoff = pool::now_ms() - kCacheTrimInterval.count();
  while (static_cast<int>(idle_workers_.size()) > cache_target_) {
    auto it = workers_.find(idle_workers_.front());  // the longest idle
    if (it != workers_.end() && it->second.idle_since_ms > cutoff) break;
    idle_workers_.pop_front();
    if (it == workers_.end()) continue;
    it->second.idle = false;
    tell_worker_to_exit(it->second);
  }
}

void Server::tell_worker_to_exit(WorkerEntry& entry) {
  if (entry.told_to_exit) return;
  entry.told_to_exit = true;
  pool::ControlMessage message{};
  message.type = pool::ControlType::shutdown;
  if (net::send_message(entry.control.get(), &message, sizeof(message)) < 0 && !entry.reaped)
    ::kill(entry.pid, SIGTERM);
}

void Server::drain_control(WorkerEntry& entry, bool at_most_one) {
  // at_most_one: the watcher calls again while messages are left (level-triggered), so one
  // message per wake-up saves the receive that would only return EAGAIN.
  for (int received = 0; !at_most_one || received < 1; ++received) {
    pool::ControlMessage message{};
    Fd attached;
    int n = net::receive_message(entry.control.get(), &message, sizeof(message), &attached);
    if (n == -EAGAIN) return;
    if (n == -EMSGSIZE || n == -ENOBUFS || n == -EINTR) {
      PGQ_WARN("worker %d: control message lost: %s", static_cast<int>(entry.pid),
               std::strerror(-n));
      continue;
    }
    if (n <= 0) {
      // The worker closed its end (it is exiting): stop watching; reaping finishes the job.
      if (entry.watcher) entry.watcher->stop();
      return;
    }
    if (static_cast<size_t>(n) != sizeof(message)) {
      PGQ_WARN("worker %d sent a malformed control message", static_cast<int>(entry.pid));
      continue;
    }
    if (message.type == pool::ControlType::idle) {
      on_worker_idle(entry);
      continue;
    }
    pool_->on_message(entry.pid, entry.control.get(), message, std::move(attached));
  }
}

void Server::reap_children() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    auto it = workers_.find(pid);
    if (it == workers_.end()) continue;
    // Messages the worker sent before it exited (a clean release) are still queued: read them
    // first, so a connection it returned is pooled rather than closed.
    it->second.reaped = true;
    drain_control(it->second);
    if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
      context_.shared->stats.worker_crashes.fetch_add(1);
      if (WIFSIGNALED(status)) {
        PGQ_WARN("worker %d was terminated by signal %d (%s); its server connection is closed",
                 static_cast<int>(pid), WTERMSIG(status), strsignal(WTERMSIG(status)));
      } else {
        PGQ_WARN("worker %d exited with status %d", static_cast<int>(pid), WEXITSTATUS(status));
      }
    }
    pool_->worker_gone(pid);
    if (it->second.idle) {
      idle_workers_.erase(std::remove(idle_workers_.begin(), idle_workers_.end(), pid),
                          idle_workers_.end());
    }
    session_ended(it->second);
    workers_.erase(it);
  }
  schedule_refill();
  if (graceful_ && workers_.empty()) {
    PGQ_INFO("graceful shutdown: the last client has left");
    pool_->close_all();
    loop_.break_loop();
  }
}

void Server::stop_accepting() {
  acceptors_.clear();
  tcp_listeners_.clear();
  unix_listener_.reset();
  if (!unix_socket_path_.empty()) {
    ::unlink(unix_socket_path_.c_str());
    unix_socket_path_.clear();
  }
}

void Server::shutdown_immediately(const char* why) {
  PGQ_INFO("%s: shutting down now", why);
  stop_accepting();
  for (auto& [pid, entry] : workers_) ::kill(pid, SIGTERM);
  pool_->close_all();
  loop_.break_loop();
}

Result<void> Server::cancel_shutdown() {
  if (!graceful_) return fail("no graceful shutdown is in progress");
  if (auto ok = open_listeners(); !ok) {
    stop_accepting();  // whatever half of them opened
    return fail("cannot cancel the shutdown: " + ok.error().message);
  }
  graceful_ = false;
  PGQ_INFO("graceful shutdown cancelled: accepting clients again");
  schedule_refill();
  return {};
}

void Server::shutdown_gracefully() {
  PGQ_INFO("graceful shutdown: no new clients; waiting for %zu session(s) to end", workers_.size());
  graceful_ = true;
  stop_accepting();
  for (pid_t pid : idle_workers_) {
    auto it = workers_.find(pid);
    if (it != workers_.end()) tell_worker_to_exit(it->second);
  }
  idle_workers_.clear();
  if (workers_.empty()) {
    pool_->close_all();
    loop_.break_loop();
  }
}

void Server::on_signal(int signo) {
  switch (signo) {
    case SIGCHLD:
      reap_children();
      break;
    case SIGTERM:
      shutdown_immediately("SIGTERM");
      break;
    case SIGINT:
      shutdown_immediately("SIGINT");
      break;
    case SIGTRAP:
      shutdown_gracefully();
      break;
    case SIGHUP:
      (void)reload();  // reports its outcome in the log
      break;
    default:
      break;
  }
}

}  // namespace pgquay::server
