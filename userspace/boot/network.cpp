#include "boot/network.hpp"

#include "boot/console.hpp"
#include "boot/http_client.hpp"
#include "boot/run_program.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace httpcloop::boot {

namespace {

bool is_loopback_host(const std::string& host)
{
	if (host == "localhost" || host == "::1")
		return true;
	in_addr address{};
	return inet_pton(AF_INET, host.c_str(), &address) == 1 && (ntohl(address.s_addr) >> 24) == 127;
}

// The first interface other than lo with an IPv4 address, or "".
std::string configured_interface()
{
	ifaddrs* list = nullptr;
	if (getifaddrs(&list) != 0)
		return "";
	std::string found;
	for (ifaddrs* entry = list; entry && found.empty(); entry = entry->ifa_next)
		if (entry->ifa_addr && entry->ifa_addr->sa_family == AF_INET && !(entry->ifa_flags & IFF_LOOPBACK) &&
		    (entry->ifa_flags & IFF_UP)) {
			char text[INET_ADDRSTRLEN] = "";
			inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr, text, sizeof text);
			found = std::string(entry->ifa_name) + " (" + text + ")";
		}
	freeifaddrs(list);
	return found;
}

std::vector<std::string> candidate_interfaces()
{
	std::vector<std::string> names;
	DIR* directory = opendir("/sys/class/net");
	if (!directory)
		return names;
	while (dirent* entry = readdir(directory)) {
		std::string name = entry->d_name;
		if (name == "." || name == ".." || name == "lo")
			continue;
		// Skip virtual interfaces that never lead anywhere (no "device" link).
		if (access(("/sys/class/net/" + name + "/device").c_str(), F_OK) != 0)
			continue;
		names.push_back(name);
	}
	closedir(directory);
	std::sort(names.begin(), names.end());
	return names;
}

} // namespace

void bring_up_loopback()
{
	int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	ifreq request{};
	std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &request) == 0 && !(request.ifr_flags & IFF_UP)) {
		request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
		if (ioctl(fd, SIOCSIFFLAGS, &request) != 0)
			warn(std::string("cannot set lo up: ") + strerror(errno));
	}
	::close(fd);
}

void ensure_network(NetworkMode mode, const std::vector<std::string>& urls, unsigned timeout_s)
{
	bring_up_loopback();
	if (mode == NetworkMode::none)
		return;
	if (mode == NetworkMode::automatic) {
		bool all_local = !urls.empty();
		for (const std::string& url : urls) {
			try {
				all_local = all_local && is_loopback_host(ParsedUrl::parse(url).host);
			} catch (const Error&) {
				all_local = false;
			}
		}
		if (all_local)
			return;
		if (std::string up = configured_interface(); !up.empty()) {
			say("network is up: " + up);
			return;
		}
	}
	const std::vector<std::string> interfaces = candidate_interfaces();
	if (interfaces.empty())
		throw Error("no network interface (only lo): check that the kernel has a driver for the network card "
			    "(or that the VM has one), or use a local URL");
	const std::vector<std::string> udhcpc = find_tool("udhcpc");
	if (udhcpc.empty())
		throw Error("no udhcpc to configure " + interfaces.front() +
			    " by DHCP: configure the network before httpcloop-boot (ip= on the kernel command line) "
			    "or use BusyBox with udhcpc (scripts/mkpreboot does)");
	const std::string tries = std::to_string(std::max(2u, timeout_s / 3));
	for (const std::string& name : interfaces) {
		say("asking for an address by DHCP on " + name);
		std::vector<std::string> command = udhcpc;
		command.insert(command.end(), {"-i", name, "-n", "-q", "-f", "-t", tries, "-T", "3"});
		int status = run_program(command);
		if (status == 0) {
			std::string up = configured_interface();
			say("network is up: " + (up.empty() ? name : up));
			return;
		}
		warn("DHCP on " + name + " failed (udhcpc status " + std::to_string(status) + ")");
	}
	throw Error("no DHCP lease on any interface: check the cable or the VM's network, and the DHCP server");
}

} // namespace httpcloop::boot
