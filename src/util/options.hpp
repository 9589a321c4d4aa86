#pragma once
// Command-line and config-file options for the gsio programs.
//   --name value | --name=value | a config file with `name = value` lines (a # outside double
//   quotes starts a comment; quote values that hold one)
// Command-line values win over the config file. `--help` prints every option with its default.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gsio::util {

class option_set {
public:
  option_set(std::string program, std::string summary);

  option_set& add(std::string name, std::string help, std::string& target);
  option_set& add(std::string name, std::string help, std::uint16_t& target);
  option_set& add(std::string name, std::string help, std::uint32_t& target);
  option_set& add(std::string name, std::string help, std::uint64_t& target);
  option_set& add(std::string name, std::string help, bool& target);  // a flag: --name, or name = true

  enum class outcome { proceed, exit_ok, exit_error };
  // Parses argv (and the file named by --config, when present). Prints help or the error itself.
  outcome parse(int argc, char** argv);

  std::string help_text() const;

private:
  struct option {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_flag = false;
    std::function<bool(std::string_view, std::string&)> set;  // value, error
  };
  bool apply(std::string_view name, std::string_view value, bool has_value, std::string& error);
  bool load_file(const std::string& path, std::vector<std::string>& seen, std::string& error);

  std::string program_;
  std::string summary_;
  std::vector<option> options_;
};

// The start of every gsio program's main: parses the command line (and --config) and applies
// `log_level` (an option bound to a string in `cli`). Returns the exit code when the program must
// stop here: 0 after --help, 2 after a bad option or an unknown log level.
std::optional<int> parse_command_line(option_set& cli, int argc, char** argv,
                                      const std::string& program, const std::string& log_level);

// A comma-separated option value as its items, trimmed, empty ones left out: "a,b , c" -> a, b, c.
std::vector<std::string> split_list(const std::string& text);

}  // namespace gsio::util
