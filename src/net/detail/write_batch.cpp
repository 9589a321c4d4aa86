#include "net/detail/write_batch.hpp"

namespace gsio::net {

void write_batch::add(std::string_view bytes) {
  if (bytes.size() <= copy_limit)
    block_.append(bytes);
  else
    references_.push_back({block_.size(), bytes});
}

const std::vector<boost::asio::const_buffer>& write_batch::buffers() {
  buffers_.clear();
  std::size_t written = 0;
  for (const auto& ref : references_) {
    if (ref.block_offset > written)
      buffers_.emplace_back(block_.data() + written, ref.block_offset - written);
    written = ref.block_offset;
    buffers_.emplace_back(ref.bytes.data(), ref.bytes.size());
  }
  if (block_.size() > written)
    buffers_.emplace_back(block_.data() + written, block_.size() - written);
  return buffers_;
}

void write_batch::clear() {
  if (block_.capacity() > retained_capacity)
    std::string{}.swap(block_);
  else
    block_.clear();
  references_.clear();
  buffers_.clear();
}

}  // namespace gsio::net
