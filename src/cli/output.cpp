#include "cli/output.hpp"

#include "util/printable.hpp"

namespace gsio::cli {

std::string terminal_safe(std::string_view text) { return util::printable(text, true); }

}  // namespace gsio::cli
