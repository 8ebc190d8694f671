#include "boot_format/kernel_cmdline.hpp"

#include "trust/trust.hpp"
#include "util/error.hpp"

#include <charconv>
#include <map>

namespace httpcloop {

namespace {

bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

unsigned parse_unsigned(std::string_view key, std::string_view value, unsigned min, unsigned max)
{
	unsigned number = 0;
	auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
	if (value.empty() || error != std::errc() || end != value.data() + value.size() || number < min || number > max)
		throw Error("kernel command line: " + std::string(key) + "=" + std::string(value.substr(0, 40)) +
			    ": expected a whole number from " + std::to_string(min) + " to " + std::to_string(max));
	return number;
}

bool is_url(std::string_view value)
{
	return value.starts_with("http://") || value.starts_with("https://");
}

std::string require_url(std::string_view key, std::string_view value)
{
	if (!is_url(value))
		throw Error("kernel command line: " + std::string(key) + "=" + std::string(value.substr(0, 80)) +
			    ": expected an http:// or https:// URL");
	return std::string(value);
}

} // namespace

std::vector<KernelParameter> split_kernel_cmdline(std::string_view text)
{
	if (size_t nul = text.find('\0'); nul != std::string_view::npos)
		text = text.substr(0, nul);
	std::vector<KernelParameter> parameters;
	size_t i = 0;
	while (i < text.size()) {
		while (i < text.size() && is_space(text[i]))
			++i;
		if (i == text.size())
			break;
		// One parameter: quotes group whitespace and are dropped wherever they are.
		std::string key, value;
		bool in_quote = false, has_value = false;
		for (; i < text.size() && (in_quote || !is_space(text[i])); ++i) {
			char c = text[i];
			if (c == '"') {
				in_quote = !in_quote;
				continue;
			}
			if (c == '=' && !has_value) {
				has_value = true;
				continue;
			}
			(has_value ? value : key) += c;
		}
		parameters.push_back({std::move(key), has_value ? std::optional(std::move(value)) : std::nullopt});
	}
	return parameters;
}

std::optional<FailureAction> failure_action_from_name(std::string_view name)
{
	if (name == "exit")
		return FailureAction::exit;
	if (name == "shell")
		return FailureAction::shell;
	if (name == "reboot")
		return FailureAction::reboot;
	if (name == "poweroff")
		return FailureAction::poweroff;
	return std::nullopt;
}

BootParameters parse_boot_parameters(std::string_view cmdline)
{
	BootParameters parameters;
	std::optional<std::string> httpfuse;
	// First value of each single-valued key, to refuse a conflicting repeat.
	std::map<std::string, std::string, std::less<>> seen;

	for (const KernelParameter& parameter : split_kernel_cmdline(cmdline)) {
		const std::string& key = parameter.key;
		const bool ours = key.starts_with("httpcloop.") || key == "httpfuse" || key == "iscript";
		if (!ours)
			continue; // the kernel's, init's or another program's
		if (!parameter.value) {
			parameters.warnings.push_back("ignoring '" + key + "' without a value");
			continue;
		}
		const std::string& value = *parameter.value;
		if (key != "httpcloop.mirror") {
			auto [it, inserted] = seen.emplace(key, value);
			if (!inserted) {
				if (it->second != value)
					throw Error("kernel command line: " + key + "= is given twice with different values ('" +
						    it->second.substr(0, 80) + "' and '" + value.substr(0, 80) + "')");
				continue;
			}
		}
		if (key == "httpcloop.boot") {
			parameters.boot_url = require_url(key, value);
		} else if (key == "httpfuse") {
			httpfuse = require_url(key, value);
		} else if (key == "iscript") {
			parameters.iscript = require_url(key, value);
		} else if (key == "httpcloop.mirror") {
			std::string url = require_url(key, value);
			bool duplicate = false;
			for (const std::string& known : parameters.mirrors)
				duplicate = duplicate || known == url;
			if (!duplicate)
				parameters.mirrors.push_back(std::move(url));
		} else if (key == "httpcloop.pubkey") {
			if (value.empty())
				throw Error("kernel command line: httpcloop.pubkey= is empty");
			parameters.pubkey = value;
		} else if (key == "httpcloop.sha256") {
			parameters.sha256 = parse_sha256_hex(value, "httpcloop.sha256");
		} else if (key == "httpcloop.cache") {
			if (value.empty())
				throw Error("kernel command line: httpcloop.cache= is empty");
			parameters.cache = value;
		} else if (key == "httpcloop.onfail") {
			parameters.on_fail = failure_action_from_name(value);
			if (!parameters.on_fail)
				throw Error("kernel command line: httpcloop.onfail=" + value.substr(0, 40) +
					    ": expected shell, reboot, poweroff or exit");
		} else if (key == "httpcloop.delay") {
			parameters.fail_delay_s = parse_unsigned(key, value, 0, 86400);
		} else if (key == "httpcloop.net") {
			if (value == "auto")
				parameters.network = NetworkMode::automatic;
			else if (value == "dhcp")
				parameters.network = NetworkMode::dhcp;
			else if (value == "none")
				parameters.network = NetworkMode::none;
			else
				throw Error("kernel command line: httpcloop.net=" + value.substr(0, 40) +
					    ": expected auto, dhcp or none");
		} else if (key == "httpcloop.timeout") {
			parameters.timeout_s = parse_unsigned(key, value, 1, 3600);
		} else if (key == "httpcloop.retries") {
			parameters.retries = parse_unsigned(key, value, 1, 20);
		} else if (key == "httpcloop.cafile") {
			parameters.cafile = value;
		} else {
			parameters.warnings.push_back("ignoring unknown parameter " + key +
						      "= (not a preboot parameter; it may be the module's)");
		}
	}
	// InetBoot's httpfuse=URL: boot what is published there, unless httpcloop.boot says otherwise.
	if (httpfuse) {
		if (!parameters.boot_url) {
			parameters.boot_url = httpfuse;
			parameters.from_httpfuse = true;
		} else if (*httpfuse != *parameters.boot_url) {
			parameters.warnings.push_back("ignoring httpfuse=" + *httpfuse + ": httpcloop.boot= is given");
		}
	}
	return parameters;
}

} // namespace httpcloop
