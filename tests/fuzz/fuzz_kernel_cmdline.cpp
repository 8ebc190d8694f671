// The kernel command line as the preboot reads it: any bytes must split without a crash,
// and parsing our parameters must either succeed or throw our Error (never anything else).
#include "boot_format/kernel_cmdline.hpp"
#include "trust/trust.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	const std::string_view text(reinterpret_cast<const char*>(data), size);
	for (const httpcloop::KernelParameter& parameter : httpcloop::split_kernel_cmdline(text))
		if (parameter.key.find_first_of("\"=") != std::string::npos ||
		    (parameter.value && parameter.value->find('"') != std::string::npos))
			std::abort(); // quotes are always dropped, and the first '=' always splits
	try {
		httpcloop::BootParameters parameters = httpcloop::parse_boot_parameters(text);
		if (parameters.boot_url)
			(void)httpcloop::parse_pinned_location(*parameters.boot_url);
	} catch (const httpcloop::Error&) {
	}
	return 0;
}
