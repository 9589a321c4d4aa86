#include "net/static_files.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>

namespace gsio::net {
namespace {

http_response plain(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size())
      return false;
    int hi = hex_value(in[i + 1]);
    int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0)
      return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace

std::string_view content_type_for(const std::filesystem::path& file) {
  auto ext = file.extension().string();
  if (ext == ".html" || ext == ".htm")
    return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs")
    return "text/javascript; charset=utf-8";
  if (ext == ".css")
    return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map")
    return "application/json";
  if (ext == ".svg")
    return "image/svg+xml";
  if (ext == ".png")
    return "image/png";
  if (ext == ".ico")
    return "image/x-icon";
  if (ext == ".txt")
    return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

http_response serve_static(const std::filesystem::path& root, std::string_view target) {
  auto path_part = target.substr(0, target.find_first_of("?#"));
  std::string decoded;
  if (!percent_decode(path_part, decoded) || decoded.empty() || decoded.front() != '/'
      || decoded.find('\0') != std::string::npos)
    return plain(400, "bad path\n");
  // Built one segment at a time, so that the result is always relative: joining an absolute
  // path ("//etc/passwd", "/%2Fetc/passwd") onto the root would replace the root.
  std::filesystem::path relative;
  for (std::size_t begin = 1; begin <= decoded.size();) {
    const auto end = std::min(decoded.find('/', begin), decoded.size());
    const std::string_view segment{decoded.data() + begin, end - begin};
    if (segment == "..")
      return plain(400, "bad path\n");
    if (!segment.empty() && segment != ".")
      relative /= segment;
    begin = end + 1;
  }
  std::error_code ec;
  auto file = root / relative;
  if (std::filesystem::is_directory(file, ec))
    file /= "index.html";
  if (!std::filesystem::is_regular_file(file, ec))
    return plain(404, "not found\n");
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return plain(404, "not found\n");
  http_response r;
  r.content_type = std::string{content_type_for(file)};
  r.body.assign(std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{});
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

}  // namespace gsio::net
