#include "boot/run_program.hpp"

#include <cerrno>
#include <cstdlib>
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
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 127;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

} // namespace httpcloop::boot
