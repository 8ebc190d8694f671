#include "util/process_mark.hpp"

namespace httpcloop {

namespace {
char* g_argv0 = nullptr;
} // namespace

void remember_argv0(char* argv0)
{
	g_argv0 = argv0;
}

bool mark_as_root_storage_daemon()
{
	if (!g_argv0 || g_argv0[0] == '\0')
		return false;
	g_argv0[0] = '@';
	return true;
}

} // namespace httpcloop
