#include "util/kv_text.hpp"

namespace httpcloop {

KeyValues parse_key_values(std::string_view text)
{
	KeyValues values;
	while (!text.empty()) {
		size_t end = text.find('\n');
		std::string_view line = text.substr(0, end);
		text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
		size_t equals = line.find('=');
		if (equals != std::string_view::npos)
			values.insert_or_assign(std::string(line.substr(0, equals)), std::string(line.substr(equals + 1)));
	}
	return values;
}

} // namespace httpcloop
