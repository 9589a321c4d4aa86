// The libFuzzer entry point of one target; GSIO_FUZZ_TARGET names it (tests/fuzz/meson.build).
#include "fuzz/fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  gsio::fuzz::GSIO_FUZZ_TARGET(data, size);
  return 0;
}
