// The web UI's file server: files below the root are served, nothing outside it is, however the
// path is spelled.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "net/static_files.hpp"

namespace fs = std::filesystem;
using gsio::net::serve_static;

namespace {

void write_file(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream{file} << text;
}

// <tmp>/site/{index.html, app/main.js, app/index.html} and <tmp>/secret.txt beside the root.
struct site {
  fs::path dir;
  fs::path root;
  site() {
    std::string pattern = (fs::temp_directory_path() / "gsio-static-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    root = dir / "site";
    write_file(root / "index.html", "home");
    write_file(root / "app" / "main.js", "code");
    write_file(root / "app" / "index.html", "app home");
    write_file(dir / "secret.txt", "secret");
  }
  ~site() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

TEST_CASE("files below the root are served, with index.html for directories") {
  site s;
  auto r = serve_static(s.root, "/app/main.js?v=3");
  CHECK(r.status == 200);
  CHECK(r.body == "code");
  CHECK(r.content_type == "text/javascript; charset=utf-8");
  CHECK(serve_static(s.root, "/").body == "home");
  CHECK(serve_static(s.root, "/app/").body == "app home");
  CHECK(serve_static(s.root, "/app/./main.js").body == "code");
  CHECK(serve_static(s.root, "/app//main.js").body == "code");
  CHECK(serve_static(s.root, "/app%2Fmain.js").body == "code");
  CHECK(serve_static(s.root, "/missing.js").status == 404);
}

TEST_CASE("no spelling of a path leaves the root") {
  site s;
  const std::string secret = (s.dir / "secret.txt").string();  // absolute, starts with '/'
  const std::string targets[] = {
      "/../secret.txt", "/app/../../secret.txt", "/%2e%2e/secret.txt", "/..%2Fsecret.txt",
      "/" + secret, "/%2F" + secret.substr(1), "//" + secret.substr(1), "/./" + secret,
      "/app/" + secret, "/%00", "secret.txt", "/%zz", "/%2"};
  for (const auto& target : targets) {
    CAPTURE(target);
    const auto r = serve_static(s.root, target);
    CHECK(r.status != 200);
    CHECK(r.body.find("secret") == std::string::npos);
  }
}
