#include "vm/guest_network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "util/file.h"

namespace lode::vm {
namespace {

Status Errno(const std::string& what) { return Status::FromErrno(errno, what); }

Result<in_addr> ParseAddress(const std::string& text) {
  in_addr a{};
  if (::inet_pton(AF_INET, text.c_str(), &a) != 1) {
    return Status::InvalidArgument("bad IPv4 address " + text);
  }
  return a;
}

sockaddr IpSockaddr(in_addr address) {
  sockaddr out{};
  auto* in = reinterpret_cast<sockaddr_in*>(&out);
  in->sin_family = AF_INET;
  in->sin_addr = address;
  return out;
}

struct ifreq Request(const std::string& interface) {
  struct ifreq r {};
  std::strncpy(r.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  return r;
}

Status BringUp(int sock, const std::string& interface) {
  struct ifreq r = Request(interface);
  if (::ioctl(sock, SIOCGIFFLAGS, &r) != 0) return Errno("flags of " + interface);
  r.ifr_flags = static_cast<short>(r.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(sock, SIOCSIFFLAGS, &r) != 0) return Errno("bring " + interface + " up");
  return Status::Ok();
}

// The first interface other than loopback; virtio_net registers it while
// its module loads, but give it a moment.
Result<std::string> NetworkInterface() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  do {
    if (DIR* d = ::opendir("/sys/class/net")) {
      std::string found;
      while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != ".." && name != "lo" && (found.empty() || name < found)) {
          found = name;
        }
      }
      ::closedir(d);
      if (!found.empty()) return found;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } while (std::chrono::steady_clock::now() < deadline);
  return Status::NotFound("the VM has no network interface");
}

Status SetAddress(int sock, const std::string& interface, const std::string& cidr) {
  size_t slash = cidr.find('/');
  int bits = slash == std::string::npos ? 32 : std::atoi(cidr.c_str() + slash + 1);
  if (bits < 1 || bits > 32) return Status::InvalidArgument("bad prefix length in " + cidr);
  LODE_ASSIGN_OR_RETURN(in_addr address, ParseAddress(cidr.substr(0, slash)));
  struct ifreq r = Request(interface);
  r.ifr_addr = IpSockaddr(address);
  if (::ioctl(sock, SIOCSIFADDR, &r) != 0) return Errno("address of " + interface);
  in_addr mask{htonl(bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits))};
  r.ifr_netmask = IpSockaddr(mask);
  if (::ioctl(sock, SIOCSIFNETMASK, &r) != 0) return Errno("netmask of " + interface);
  return Status::Ok();
}

Status AddDefaultRoute(int sock, const std::string& gateway) {
  LODE_ASSIGN_OR_RETURN(in_addr via, ParseAddress(gateway));
  rtentry route{};
  route.rt_dst = IpSockaddr(in_addr{INADDR_ANY});
  route.rt_genmask = IpSockaddr(in_addr{INADDR_ANY});
  route.rt_gateway = IpSockaddr(via);
  route.rt_flags = RTF_UP | RTF_GATEWAY;
  if (::ioctl(sock, SIOCADDRT, &route) != 0) return Errno("default route via " + gateway);
  return Status::Ok();
}

Status WriteNameFiles(const GuestNetwork& network, const std::string& files_dir) {
  std::string etc = files_dir + "/etc";
  ::mkdir(files_dir.c_str(), 0755);
  if (::mkdir(etc.c_str(), 0755) != 0 && errno != EEXIST) return Errno("mkdir " + etc);
  LODE_RETURN_IF_ERROR(
      WriteFileAtomically(etc + "/resolv.conf", "nameserver " + network.nameserver + "\n"));
  return WriteFileAtomically(etc + "/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n");
}

}  // namespace

Status ConfigureGuestNetwork(const GuestNetwork& network, const std::string& files_dir) {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return Errno("socket");
  Status s = BringUp(sock, "lo");
  if (s.ok() && network.enabled()) {
    Result<std::string> interface = NetworkInterface();
    s = interface.status();
    if (s.ok()) s = SetAddress(sock, *interface, network.address);
    if (s.ok()) s = BringUp(sock, *interface);
    if (s.ok()) s = AddDefaultRoute(sock, network.gateway);
    if (s.ok()) s = WriteNameFiles(network, files_dir);
  }
  ::close(sock);
  return s;
}

}  // namespace lode::vm
