#include "util/hex.hpp"

namespace httpcloop {

namespace {

int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

} // namespace

std::string to_hex(std::span<const uint8_t> bytes)
{
	static constexpr char digits[] = "0123456789abcdef";
	std::string text(bytes.size() * 2, '\0');
	for (size_t i = 0; i < bytes.size(); ++i) {
		text[2 * i] = digits[bytes[i] >> 4];
		text[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	return text;
}

std::optional<std::vector<uint8_t>> from_hex(std::string_view text)
{
	if (text.size() % 2 != 0)
		return std::nullopt;
	std::vector<uint8_t> bytes(text.size() / 2);
	for (size_t i = 0; i < bytes.size(); ++i) {
		int high = hex_digit_value(text[2 * i]);
		int low = hex_digit_value(text[2 * i + 1]);
		if (high < 0 || low < 0)
			return std::nullopt;
		bytes[i] = static_cast<uint8_t>(high << 4 | low);
	}
	return bytes;
}

} // namespace httpcloop
