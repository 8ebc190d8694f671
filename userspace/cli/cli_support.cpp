#include "cli/cli_support.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <string>

namespace httpcloop::cli {

namespace {

std::string describe_option(int value, const option* long_options, const char* fallback)
{
	for (const option* o = long_options; o->name; ++o)
		if (o->val == value)
			return std::string("--") + o->name;
	if (value != 0)
		return std::string("-") + static_cast<char>(value);
	return fallback ? fallback : "?";
}

std::string lowercase(std::string_view text)
{
	std::string lower(text);
	for (char& c : lower)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	return lower;
}

} // namespace

std::optional<int> parse_options(int argc, char** argv, const char* short_options, const option* long_options,
				 std::string_view help, const std::function<void(int, const char*)>& on_option)
{
	// Leading ':' makes getopt report a missing argument as ':' rather than '?'.
	const std::string options = std::string(":") + short_options;
	opterr = 0;  // we print our own messages
	optind = 0;  // glibc: full re-initialisation, as main() may already have used getopt
	for (;;) {
		int value = getopt_long(argc, argv, options.c_str(), long_options, nullptr);
		if (value == -1)
			return optind;
		if (value == 'h') {
			std::fwrite(help.data(), 1, help.size(), stdout);
			return std::nullopt;
		}
		if (value == '?')
			throw UsageError("unknown option " +
					 (optopt != 0 ? describe_option(optopt, long_options, nullptr)
						      : std::string(argv[optind - 1])));
		if (value == ':')
			throw UsageError("option " + describe_option(optopt, long_options, argv[optind - 1]) +
					 " needs an argument");
		on_option(value, optarg);
	}
}

uint64_t parse_size(std::string_view text, std::string_view what)
{
	uint64_t number = 0;
	auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
	const std::string suffix = lowercase(std::string_view(end, text.data() + text.size() - end));
	int shift = -1;
	if (suffix.empty() || suffix == "b")
		shift = 0;
	else if (suffix == "k" || suffix == "kib")
		shift = 10;
	else if (suffix == "m" || suffix == "mib")
		shift = 20;
	else if (suffix == "g" || suffix == "gib")
		shift = 30;
	if (error != std::errc() || end == text.data() || shift < 0 || number > (UINT64_MAX >> shift))
		throw UsageError("invalid " + std::string(what) + " '" + std::string(text) +
				 "' (expected a number with an optional K, M or G suffix)");
	return number << shift;
}

long parse_integer(std::string_view text, long min, long max, std::string_view what)
{
	long number = 0;
	auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
	if (error != std::errc() || end != text.data() + text.size())
		throw UsageError("invalid " + std::string(what) + " '" + std::string(text) + "' (expected an integer)");
	if (number < min || number > max)
		throw UsageError(std::string(what) + " " + std::to_string(number) + " is out of range " +
				 std::to_string(min) + ".." + std::to_string(max));
	return number;
}

} // namespace httpcloop::cli
