#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "net/detail/write_batch.hpp"

using gsio::net::write_batch;

namespace {

// What a socket would receive from the batch's buffers, in order.
std::string concatenated(write_batch& batch) {
  std::string out;
  for (const auto& buffer : batch.buffers())
    out.append(static_cast<const char*>(buffer.data()), buffer.size());
  return out;
}

}  // namespace

TEST_CASE("write_batch: small pieces go out as one buffer, in order") {
  write_batch batch;
  CHECK(batch.empty());
  batch.copy("\x81\x05");
  batch.add("hello");
  batch.copy("\x81\x03");
  batch.add("abc");
  CHECK_FALSE(batch.empty());
  CHECK(batch.buffers().size() == 1);
  CHECK(concatenated(batch) == std::string{"\x81\x05hello\x81\x03" "abc"});
}

TEST_CASE("write_batch: a large piece is written from where it is, between the copied bytes") {
  const std::string large(write_batch::copy_limit + 1, 'L');
  write_batch batch;
  batch.copy("head1");
  batch.add(large);
  batch.copy("head2");
  batch.add("small");
  const auto& buffers = batch.buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(buffers[1].data() == large.data());  // not copied
  CHECK(batch.copied_bytes() == 15);
  CHECK(concatenated(batch) == "head1" + large + "head2small");

  // Two large pieces in a row, and one first: no empty buffers between them.
  write_batch leading;
  leading.add(large);
  leading.add(large);
  leading.copy("tail");
  CHECK(leading.buffers().size() == 3);
  CHECK(concatenated(leading) == large + large + "tail");
}

TEST_CASE("write_batch: full once block_limit bytes are copied; clear forgets and frees a big block") {
  write_batch batch{16 * 1024};
  CHECK(batch.block_limit() == 16 * 1024);
  const std::string piece(1000, 'x');
  std::size_t pieces = 0;
  while (!batch.full()) {
    batch.add(piece);
    ++pieces;
  }
  CHECK(pieces == (batch.block_limit() + piece.size() - 1) / piece.size());
  CHECK(batch.copied_bytes() >= batch.block_limit());
  CHECK(batch.block_capacity() > write_batch::retained_capacity);
  batch.clear();
  CHECK(batch.empty());
  CHECK_FALSE(batch.full());
  CHECK(batch.buffers().empty());
  CHECK(batch.block_capacity() <= write_batch::retained_capacity);
  batch.add("after");
  CHECK(concatenated(batch) == "after");

  // A small block is kept for the next write.
  batch.clear();
  batch.add(std::string(3000, 'y'));
  const auto kept = batch.block_capacity();
  batch.clear();
  CHECK(batch.block_capacity() == kept);
}

TEST_CASE("write_batch: an empty piece adds nothing") {
  write_batch batch;
  batch.add("");
  batch.copy("");
  CHECK(batch.empty());
  CHECK(batch.buffers().empty());
}
