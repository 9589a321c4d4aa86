// Runs every fuzz target over its saved corpus (tests/fuzz/corpus/<target>: seeds, and inputs the
// fuzzers found that reach new code or once broke something) and over a fixed series of
// mutations of it, so that every build checks the targets' invariants without libFuzzer.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> load_corpus(const fs::path& dir) {
  std::vector<fs::path> files;
  if (fs::is_directory(dir))
    for (const auto& item : fs::directory_iterator(dir))
      if (item.is_regular_file())
        files.push_back(item.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> inputs;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

// A few of libFuzzer's mutations: flip, set, insert and erase bytes, copy a piece of another input.
std::string mutate(std::string input, const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  auto pick = [&](std::size_t bound) { return bound == 0 ? 0 : static_cast<std::size_t>(rng() % bound); };
  static constexpr char interesting[] = {'\0', '\x7f', '\x80', '\xff', '"', '\\', '[', '{', '-', '\x1e'};
  const auto steps = 1 + pick(4);
  for (std::size_t step = 0; step < steps; ++step) {
    switch (pick(6)) {
      case 0:
        if (!input.empty())
          input[pick(input.size())] ^= static_cast<char>(1u << pick(8));
        break;
      case 1:
        if (!input.empty())
          input[pick(input.size())] = interesting[pick(sizeof interesting)];
        break;
      case 2:
        input.insert(input.begin() + static_cast<std::ptrdiff_t>(pick(input.size() + 1)),
                     static_cast<char>(pick(256)));
        break;
      case 3:
        if (!input.empty()) {
          const auto at = pick(input.size());
          input.erase(at, 1 + pick(std::min<std::size_t>(8, input.size() - at)));
        }
        break;
      case 4:
        if (!input.empty()) {
          const auto at = pick(input.size());
          input.insert(pick(input.size() + 1), input.substr(at, 1 + pick(16)));
        }
        break;
      default: {
        const auto& other = corpus[pick(corpus.size())];
        if (!other.empty()) {
          const auto from = pick(other.size());
          input.insert(pick(input.size() + 1), other.substr(from, 1 + pick(64)));
        }
        break;
      }
    }
  }
  return input;
}

void run(const gsio::fuzz::target& target, const std::string& input, const std::string& label) {
  try {
    target.run(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  } catch (const gsio::fuzz::invariant_broken& broken) {
    // Keep the input so that it can be replayed with the fuzzer binary or added to the corpus.
    const auto saved = fs::temp_directory_path() / (std::string("gsio-fuzz-") + target.name + "-failure");
    std::ofstream(saved, std::ios::binary) << input;
    FAIL_CHECK(target.name << " " << label << ": " << broken.what() << " (input saved to " << saved.string() << ")");
  }
}

}  // namespace

TEST_CASE("fuzz targets hold their invariants on the saved corpus and its mutations") {
  const char* corpus_root = std::getenv("GSIO_FUZZ_CORPUS");
  REQUIRE_MESSAGE(corpus_root != nullptr, "GSIO_FUZZ_CORPUS names tests/fuzz/corpus");
  const char* mutations_env = std::getenv("GSIO_FUZZ_MUTATIONS");
  const std::size_t mutations = mutations_env ? std::strtoul(mutations_env, nullptr, 10) : 2000;
  for (const auto& target : gsio::fuzz::all_targets) {
    const auto corpus = load_corpus(fs::path(corpus_root) / target.name);
    CAPTURE(target.name);
    CHECK_MESSAGE(!corpus.empty(), "no saved inputs for ", target.name);
    for (std::size_t i = 0; i < corpus.size(); ++i)
      run(target, corpus[i], "corpus input " + std::to_string(i));
    std::mt19937_64 rng(20261126);
    for (std::size_t i = 0; i < mutations && !corpus.empty(); ++i)
      run(target, mutate(corpus[rng() % corpus.size()], corpus, rng), "mutation " + std::to_string(i));
  }
}
