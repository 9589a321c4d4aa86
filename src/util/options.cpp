#include "util/options.hpp"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <limits>

#include "util/log.hpp"

namespace gsio::util {
namespace {

template <class Int>
bool parse_unsigned(std::string_view text, Int& out, std::string& error) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
    error.assign("'").append(text).append("' is not a non-negative integer");
    return false;
  }
  if (value > std::numeric_limits<Int>::max()) {
    error.assign("'").append(text).append("' is too large (maximum ");
    error.append(std::to_string(std::numeric_limits<Int>::max())).append(")");
    return false;
  }
  out = static_cast<Int>(value);
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Where a config line's comment starts: the first '#' outside double quotes, so that a quoted
// value (a token, say) may hold '#'.
std::size_t comment_start(std::string_view line) {
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"')
      quoted = !quoted;
    else if (line[i] == '#' && !quoted)
      return i;
  }
  return std::string_view::npos;
}

}  // namespace

option_set::option_set(std::string program, std::string summary)
  : program_(std::move(program)), summary_(std::move(summary)) {}

option_set& option_set::add(std::string name, std::string help, std::string& target) {
  options_.push_back({std::move(name), std::move(help), target, false,
                      [&target](std::string_view v, std::string&) {
                        target = std::string{v};
                        return true;
                      }});
  return *this;
}

#define GSIO_ADD_UNSIGNED(T)                                                                 \
  option_set& option_set::add(std::string name, std::string help, T& target) {               \
    options_.push_back({std::move(name), std::move(help), std::to_string(target), false,     \
                        [&target](std::string_view v, std::string& err) {                    \
                          return parse_unsigned(v, target, err);                             \
                        }});                                                                 \
    return *this;                                                                            \
  }
GSIO_ADD_UNSIGNED(std::uint16_t)
GSIO_ADD_UNSIGNED(std::uint32_t)
GSIO_ADD_UNSIGNED(std::uint64_t)
#undef GSIO_ADD_UNSIGNED

option_set& option_set::add(std::string name, std::string help, bool& target) {
  options_.push_back({std::move(name), std::move(help), target ? "true" : "false", true,
                      [&target](std::string_view v, std::string& err) {
                        if (v == "true" || v == "1" || v == "yes") {
                          target = true;
                        } else if (v == "false" || v == "0" || v == "no") {
                          target = false;
                        } else {
                          err.assign("'").append(v).append("' is not true or false");
                          return false;
                        }
                        return true;
                      }});
  return *this;
}

bool option_set::apply(std::string_view name, std::string_view value, bool has_value,
                       std::string& error) {
  for (auto& opt : options_) {
    if (opt.name != name)
      continue;
    if (!has_value && !opt.is_flag) {
      error = "option --" + opt.name + " needs a value";
      return false;
    }
    std::string why;
    if (!opt.set(has_value ? value : std::string_view{"true"}, why)) {
      error = "option --" + opt.name + ": " + why;
      return false;
    }
    return true;
  }
  error = "unknown option --" + std::string{name} + " (see --help)";
  return false;
}

bool option_set::load_file(const std::string& path, std::vector<std::string>& seen,
                           std::string& error) {
  std::ifstream in{path};
  if (!in) {
    error = "cannot read config file " + path;
    return false;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto text = trim(std::string_view{line}.substr(0, comment_start(line)));
    if (text.empty())
      continue;
    auto eq = text.find('=');
    if (eq == std::string_view::npos) {
      error = path + ":" + std::to_string(number) + ": expected `name = value`";
      return false;
    }
    auto name = trim(text.substr(0, eq));
    auto value = trim(text.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    bool overridden = false;
    for (auto& s : seen)
      overridden = overridden || s == name;
    if (overridden)
      continue;
    if (!apply(name, value, true, error)) {
      error = path + ":" + std::to_string(number) + ": " + error;
      return false;
    }
  }
  return true;
}

option_set::outcome option_set::parse(int argc, char** argv) {
  std::string config_path;
  std::vector<std::string> seen;
  std::string error;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg{argv[i]};
    if (arg == "--help" || arg == "-h") {
      std::fputs(help_text().c_str(), stdout);
      return outcome::exit_ok;
    }
    if (arg.substr(0, 2) != "--") {
      std::fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", program_.c_str(),
                   argv[i]);
      return outcome::exit_error;
    }
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::string_view value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    } else {
      bool flag = false;
      for (auto& opt : options_)
        flag = flag || (opt.name == name && opt.is_flag);
      // The next argument is the value, unless it is another option: `--relay --token=x` is a
      // missing value, not a relay named "--token=x" (write `--name=--value` for such a value).
      const bool next_is_value = i + 1 < argc && std::string_view{argv[i + 1]}.substr(0, 2) != "--";
      if (!flag && next_is_value) {
        value = argv[++i];
        has_value = true;
      }
    }
    if (name == "config") {
      if (!has_value) {
        std::fprintf(stderr, "%s: option --config needs a file\n", program_.c_str());
        return outcome::exit_error;
      }
      config_path = std::string{value};
      continue;
    }
    if (!apply(name, value, has_value, error)) {
      std::fprintf(stderr, "%s: %s\n", program_.c_str(), error.c_str());
      return outcome::exit_error;
    }
    seen.emplace_back(name);
  }
  if (!config_path.empty() && !load_file(config_path, seen, error)) {
    std::fprintf(stderr, "%s: %s\n", program_.c_str(), error.c_str());
    return outcome::exit_error;
  }
  return outcome::proceed;
}

std::string option_set::help_text() const {
  std::string out;
  out.append("usage: ").append(program_).append(" [options]\n").append(summary_);
  out.append("\n\noptions:\n");
  auto line = [&out](std::string_view left, std::string_view help) {
    out.append("  ").append(left);
    if (left.size() < 28)
      out.append(28 - left.size(), ' ');
    else
      out.append("\n").append(30, ' ');
    out.append(help).append("\n");
  };
  line("--help", "print this help and exit");
  line("--config FILE", "read `name = value` lines (command line wins)");
  for (auto& opt : options_) {
    std::string left{"--"};
    left.append(opt.name);
    if (!opt.is_flag)
      left.append(" VALUE");
    std::string help{opt.help};
    if (!opt.default_text.empty())
      help.append(" (default: ").append(opt.default_text).append(")");
    line(left, help);
  }
  return out;
}

std::optional<int> parse_command_line(option_set& cli, int argc, char** argv,
                                      const std::string& program, const std::string& log_level) {
  switch (cli.parse(argc, argv)) {
    case option_set::outcome::exit_ok:
      return 0;
    case option_set::outcome::exit_error:
      return 2;
    case option_set::outcome::proceed:
      break;
  }
  auto level = log::parse_level(log_level);
  if (!level) {
    std::fprintf(stderr, "%s: unknown log level '%s'\n", program.c_str(), log_level.c_str());
    return 2;
  }
  log::set_level(*level);
  return std::nullopt;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    auto item = text.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty())
      out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

}  // namespace gsio::util
