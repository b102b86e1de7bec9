// The relay between a running VM's virtio-serial ports and lode: the
// command's stdio, the init's status lines, QMP events, stop signals.
// Internal to the vm component.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/file.h"
#include "vm/machine.h"
#include "vm/qemu_process.h"
#include "vm/qmp.h"

namespace lode::vm {

using Clock = std::chrono::steady_clock;

// Moves bytes between the ports and this process until QEMU exits (or, for
// a snapshot, until the command is ready), noting when each status line
// arrived.
class Relay {
 public:
  enum class Mode {
    kRun,                // stdin relayed from the start
    kSnapshot,           // no stdin; ends when the command is ready
    kRestore,            // stdin relayed once the guest reported its reseed
    kBackground,         // no stdin (a function's runtime)
    kBackgroundRestore,  // the same, restored: the guest must confirm its reseed
  };
  // Where the command's stdout or stderr goes.
  using Output = std::function<void(std::string_view)>;

  // `ports`: stdout, stderr, stdin, status (PortsOf's order); `signal_fd`
  // (-1: none) delivers the signals that stop the VM.
  Relay(Mode mode, Qemu& qemu, QmpClient& qmp, std::vector<UniqueFd> ports, int signal_fd,
        Output out, Output err)
      : mode_(mode),
        qemu_(qemu),
        qmp_(qmp),
        out_(std::move(ports[0])),
        err_(std::move(ports[1])),
        in_(std::move(ports[2])),
        status_(std::move(ports[3])),
        signal_fd_(signal_fd),
        stdin_open_(mode == Mode::kRun),
        awaiting_reseed_(mode == Mode::kRestore || mode == Mode::kBackgroundRestore),
        out_to_(std::move(out)),
        err_to_(std::move(err)) {}

  void SetReady(const ReadyWhen& ready) { ready_when_ = ready; }
  // Run() also ends, ready, once `fd` is readable (an eventfd another
  // thread signals).
  void WatchReady(int fd) { ready_fd_ = fd; }
  void Note(const std::string& event) { events_.emplace_back(event, Clock::now()); }

  // Until QEMU exits, then whatever the ports still hold; in kSnapshot
  // mode until the command is ready (or a deadline passed: timed_out()).
  void Run();

  const std::vector<std::pair<std::string, Clock::time_point>>& events() const { return events_; }
  int stopped_by() const { return stopped_by_; }
  const std::string& io_error() const { return io_error_; }
  bool ready() const { return ready_; }
  bool timed_out() const { return timed_out_; }

 private:
  // How long poll may wait (-1: no limit); 0 once the command is ready or
  // a deadline passed (timed_out(): QEMU is killed).
  int TimeoutMs(Clock::time_point started);
  static Clock::duration Seconds(double s);
  void Handle(int fd);

  // What `fd` holds now ("" when interrupted); nothing at its end or on an
  // error.
  static std::optional<std::string> ReadSome(int fd);
  void Forward(UniqueFd& from, const Output& to);

  // The marker may arrive split across reads: the tail of the last read
  // is kept.
  void WatchForMarker(const std::string& bytes);
  void ReadStatus();
  void ReadStdin();
  void WriteStdin();

  // The disk runs with rerror=stop: a read of the image that failed (the
  // agent could not fetch a chunk) pauses the VM rather than handing the
  // guest an error; lode ends it and says so.
  void ReadQmp();
  void Stop();

  // After QEMU exited: the sockets hold the rest of the output.
  void Drain();
  static constexpr int kReseedTimeoutSeconds = 30;

  Mode mode_;
  Qemu& qemu_;
  QmpClient& qmp_;
  bool qmp_open_ = true;
  std::string io_error_;
  UniqueFd out_, err_, in_, status_;
  UniqueFd in_shut_;  // stdin after its end: shut for writing, kept open
  int signal_fd_;
  bool stdin_open_;
  bool awaiting_reseed_;
  int ready_fd_ = -1;
  Output out_to_, err_to_;
  std::string pending_;  // stdin bytes not yet taken by the guest
  std::string status_text_;
  std::vector<std::pair<std::string, Clock::time_point>> events_;
  int stopped_by_ = 0;
  ReadyWhen ready_when_;
  std::string marker_window_;
  std::optional<Clock::time_point> started_at_;
  bool ready_ = false, timed_out_ = false;
};

}  // namespace lode::vm
