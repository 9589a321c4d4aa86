#pragma once
// The bytes of one socket write, gathered into as few buffers as possible.
//
// Most of what a busy connection writes is small frames (an event, an ack, a relayed entry: a
// few hundred bytes each), many at a time. Written as one buffer per frame and header they cost
// one sendmsg per 64 buffers (Asio passes no more to one call), and on loopback each call also
// pays for delivering its segment to the reader: measured, that was a third of a node's CPU
// under ingest. So small pieces are copied into one block and large ones written from where
// they are. The block is bounded, and given back after a write that made it large, so a
// connection that is slow to read holds at most one block, and an idle one next to nothing.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>

namespace gsio::net {

class write_batch {
public:
  // Pieces up to this size are copied; larger ones are referenced.
  static constexpr std::size_t copy_limit = 4 * 1024;
  // Kept between writes (enough for acks and pings); a larger block is freed after its write.
  static constexpr std::size_t retained_capacity = 4 * 1024;

  // A write stops taking frames once `block_limit` bytes have been copied: what a connection
  // whose reader stalls holds on top of the frames it shares with other connections.
  explicit write_batch(std::size_t block_limit = 64 * 1024) : block_limit_(block_limit) {}

  // Always copied: headers and control frames.
  void copy(std::string_view bytes) { block_.append(bytes); }
  // Copied when small; otherwise `bytes` must stay valid until the write completes.
  void add(std::string_view bytes);
  bool full() const { return block_.size() >= block_limit_; }
  std::size_t block_limit() const { return block_limit_; }
  bool empty() const { return block_.empty() && references_.empty(); }
  std::size_t copied_bytes() const { return block_.size(); }
  std::size_t block_capacity() const { return block_.capacity(); }

  // The buffers for the write, in order; valid until the next add, copy or clear.
  const std::vector<boost::asio::const_buffer>& buffers();
  // After the write: forgets its bytes, and frees a block that grew past retained_capacity.
  void clear();

private:
  struct reference {
    std::size_t block_offset;  // written after the block's bytes up to here
    std::string_view bytes;
  };
  std::size_t block_limit_;
  std::string block_;
  std::vector<reference> references_;
  std::vector<boost::asio::const_buffer> buffers_;
};

}  // namespace gsio::net
