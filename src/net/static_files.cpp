#include "net/static_files.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>

#include "util/url.hpp"

namespace gsio::net {
namespace {

http_response plain(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
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
  const auto maybe_decoded = util::percent_decode(path_part);
  if (!maybe_decoded || maybe_decoded->empty() || maybe_decoded->front() != '/' ||
      maybe_decoded->find('\0') != std::string::npos)
    return plain(400, "bad path\n");
  const std::string& decoded = *maybe_decoded;
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
