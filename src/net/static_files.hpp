#pragma once
// Serves files below a root directory for GET/HEAD requests: index.html for directories, content
// types by extension, no escape from the root.
#include <filesystem>
#include <string_view>

#include "net/sio_server.hpp"

namespace gsio::net {

// Answers `target` (path plus optional query) from `root`: 200 with the file, 404 when absent,
// 400 for a path that tries to leave the root.
http_response serve_static(const std::filesystem::path& root, std::string_view target);

std::string_view content_type_for(const std::filesystem::path& file);

}  // namespace gsio::net
