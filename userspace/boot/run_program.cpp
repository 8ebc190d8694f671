#include "boot/run_program.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace httpcloop::boot {

std::string find_program(const std::string& name)
{
	const char* path = std::getenv("PATH");
	std::string directories = path && *path ? path : "/sbin:/bin:/usr/sbin:/usr/bin";
	size_t start = 0;
	while (start <= directories.size()) {
		size_t end = directories.find(':', start);
		std::string directory = directories.substr(start, end == std::string::npos ? std::string::npos : end - start);
		std::string candidate = (directory.empty() ? "." : directory) + "/" + name;
		if (access(candidate.c_str(), X_OK) == 0)
			return candidate;
		if (end == std::string::npos)
			break;
		start = end + 1;
	}
	return "";
}

std::vector<std::string> find_tool(const std::string& name)
{
	if (std::string path = find_program(name); !path.empty())
		return {path};
	if (std::string busybox = find_program("busybox"); !busybox.empty())
		return {busybox, name};
	return {};
}

namespace {

int wait_for(pid_t pid)
{
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 127;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

} // namespace

std::optional<std::string> run_program_line(const std::vector<std::string>& argv)
{
	std::vector<char*> arguments;
	for (const std::string& argument : argv)
		arguments.push_back(const_cast<char*>(argument.c_str()));
	arguments.push_back(nullptr);
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return std::nullopt;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return std::nullopt;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execv(arguments[0], arguments.data());
		_exit(127);
	}
	close(fds[1]);
	std::string output;
	char buffer[512];
	for (;;) {
		ssize_t n = read(fds[0], buffer, sizeof buffer);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (output.size() < 4096)
			output.append(buffer, static_cast<size_t>(n));
	}
	close(fds[0]);
	if (wait_for(pid) != 0)
		return std::nullopt;
	return output.substr(0, output.find('\n'));
}

int run_program(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env)
{
	// Everything the child needs is built before fork(): after it, only async-signal-safe calls.
	std::vector<char*> arguments;
	for (const std::string& argument : argv)
		arguments.push_back(const_cast<char*>(argument.c_str()));
	arguments.push_back(nullptr);
	std::vector<char*> environment;
	for (char** entry = environ; entry && *entry; ++entry)
		environment.push_back(*entry);
	for (const std::string& entry : extra_env)
		environment.push_back(const_cast<char*>(entry.c_str()));
	environment.push_back(nullptr);

	pid_t pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		execve(arguments[0], arguments.data(), environment.data());
		_exit(127);
	}
	return wait_for(pid);
}

} // namespace httpcloop::boot
