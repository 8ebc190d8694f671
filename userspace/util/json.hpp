#pragma once
// Just enough JSON output for `--json` flags: a flat or nested object built in order.

#include <cstdint>
#include <string>
#include <string_view>

namespace httpcloop {

// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

class JsonObject {
public:
	JsonObject& add(std::string_view key, std::string_view value);
	// Without this, a string literal would pick the bool overload (a standard conversion).
	JsonObject& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
	JsonObject& add(std::string_view key, uint64_t value);
	JsonObject& add(std::string_view key, bool value);
	// `json` must already be valid JSON (an object, a number, null).
	JsonObject& add_raw(std::string_view key, std::string_view json);
	std::string str() const { return body_ + "}"; }

private:
	void key(std::string_view name);
	std::string body_ = "{";
};

} // namespace httpcloop
