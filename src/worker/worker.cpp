// The worker process's outer loop: one Session per client, reused while sessions end cleanly.
#include "pgquay/worker/worker.hpp"

#include <signal.h>

#include <cerrno>
#include <optional>

#include "pgquay/common/log.hpp"
#include "pgquay/common/process.hpp"
#include "pgquay/ev/watchers.hpp"
#include "pgquay/net/fd_passing.hpp"
#include "session.hpp"

namespace pgquay::worker {
namespace {

// Waits, idle, for main to hand over a client. nullopt: main wants this worker gone.
std::optional<ClientHandoff> wait_for_client(ev::Loop& loop, int control_fd) {
  std::optional<ClientHandoff> client;
  bool stop = false;
  ev::SignalWatcher signals(loop, {SIGTERM, SIGQUIT}, [&](int) {
    stop = true;
    loop.break_loop();
  });
  ev::ReadableWatcher control(loop, control_fd, [&] {
    for (;;) {
      pool::ControlMessage message{};
      Fd attached;
      int n = net::receive_message(control_fd, &message, sizeof(message), &attached);
      if (n == -EAGAIN) return;
      if (n <= 0 || message.type == pool::ControlType::shutdown) {
        stop = true;
        loop.break_loop();
        return;
      }
      if (message.type == pool::ControlType::client && attached) {
        net::SocketAddress peer = net::peer_address(attached.get());
        bool unix_socket = peer.family() == AF_UNIX;
        client = ClientHandoff{std::move(attached), peer, unix_socket};
        loop.break_loop();
        return;
      }
    }
  });
  if (auto ran = loop.run(); !ran) return std::nullopt;
  if (stop) return std::nullopt;
  return client;
}

}  // namespace

int run_worker(ev::Loop& loop, const Context& context, WorkerStart start) {
  log::set_process_role("worker");
  // Signals meant for the main process (pkill -HUP pgquay, Ctrl-C on the terminal's process
  // group) must not kill sessions: main tells workers what to do over their control channel or
  // with SIGTERM.
  for (int signo : {SIGHUP, SIGINT, SIGUSR1, SIGUSR2, SIGTRAP}) ::signal(signo, SIG_IGN);
  const int max_clients = context.config.main.worker_max_clients;
  int served = 0;
  uint32_t request_counter = 0;
  std::optional<ClientHandoff> client = std::move(start.client);
  for (;;) {
    if (!client) {
      process::set_title("pgquay: idle worker");
      client = wait_for_client(loop, start.control.get());
      if (!client) return 0;
    }
    bool reusable = false;
    {
      Session session(loop, context, start.control.get(), request_counter, std::move(*client));
      session.start();
      if (auto ran = loop.run(); !ran) {
        PGQ_ERROR("worker loop failed: %s", ran.error().message.c_str());
        return 1;
      }
      reusable = session.reusable();
    }
    client.reset();
    ++served;
    // Recycling after worker_max_clients bounds whatever a long-lived process might accumulate.
    if (!reusable || (max_clients > 0 && served >= max_clients)) return 0;
    pool::ControlMessage idle{};
    idle.type = pool::ControlType::idle;
    if (net::send_message(start.control.get(), &idle, sizeof(idle)) < 0) return 0;
  }
}

}  // namespace pgquay::worker
