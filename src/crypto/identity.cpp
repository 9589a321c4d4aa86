#include "crypto/identity.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <cryptopp/xed25519.h>

#include "crypto/random.hpp"
#include "util/hex.hpp"

namespace gsio::crypto {

using util::from_hex;
using util::to_hex;

struct identity::impl {
  explicit impl(const std::array<std::uint8_t, 32>& seed_bytes)
    : seed(seed_bytes), signer(seed_bytes.data()) {}
  std::array<std::uint8_t, 32> seed;
  CryptoPP::ed25519::Signer signer;
};

identity::identity(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  CryptoPP::ed25519::Verifier verifier(impl_->signer);
  const auto& key = dynamic_cast<const CryptoPP::ed25519PublicKey&>(verifier.GetPublicKey());
  node_id_ = to_hex(key.GetPublicKeyBytePtr(), 32);
}

identity::identity(identity&&) noexcept = default;
identity& identity::operator=(identity&&) noexcept = default;
identity::~identity() = default;

identity identity::from_seed(const std::array<std::uint8_t, 32>& seed) {
  return identity(std::make_unique<impl>(seed));
}

identity identity::generate() {
  std::array<std::uint8_t, 32> seed;
  random_bytes(seed.data(), seed.size());
  return from_seed(seed);
}

namespace {

// Writes `key`'s seed to `file` unless it exists: a temporary file of our own (mkstemp: unique
// name, mode 0600), written and synced, then linked in place, so the key appears complete or not
// at all, and if another process made one meanwhile, link fails and that one stays. False when
// `file` already existed.
bool write_new_key(const std::filesystem::path& file, const identity& key) {
  const auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  std::string temporary = (dir / (file.filename().string() + ".XXXXXX")).string();
  int fd = ::mkstemp(temporary.data());
  if (fd < 0)
    throw std::runtime_error("cannot create a file in " + dir.string() + ": " + std::strerror(errno));
  const std::string text = key.seed_hex() + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  const int write_errno = errno;
  ::close(fd);
  const int linked = written ? ::link(temporary.c_str(), file.c_str()) : -1;
  const int link_errno = errno;
  ::unlink(temporary.c_str());
  if (!written)
    throw std::runtime_error("cannot write " + file.string() + ": " + std::strerror(write_errno));
  if (linked != 0 && link_errno != EEXIST)
    throw std::runtime_error("cannot write " + file.string() + ": " + std::strerror(link_errno));
  // The directory entry must be durable before anything is signed with the key: entries
  // signed by a key that a power loss took away could never be re-signed.
  if (int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return linked == 0;
}

}  // namespace

identity identity::load_or_create(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  const fs::path file = dir / "node.key";
  std::error_code ec;
  const bool created = fs::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error("cannot create data directory " + dir.string() + ": " + ec.message());
  if (created)  // the ledger and the key are the node's own business
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (!fs::exists(file)) {
    identity fresh = generate();
    if (write_new_key(file, fresh))
      return fresh;
    // Another process won the race: use its key (read below).
  }
  return load_file(file);
}

identity identity::create_file(const std::filesystem::path& file) {
  identity fresh = generate();
  if (!write_new_key(file, fresh))
    throw std::runtime_error(file.string() + " already exists; a key file is never overwritten");
  return fresh;
}

identity identity::load_file(const std::filesystem::path& file) {
  struct stat st{};
  if (::stat(file.c_str(), &st) != 0)
    throw std::runtime_error("cannot read key file " + file.string() + ": " + std::strerror(errno));
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    throw std::runtime_error(file.string() + " is readable by other users (mode " +
                             [&] { std::ostringstream s; s << std::oct << (st.st_mode & 0777); return s.str(); }() +
                             "); run: chmod 600 " + file.string());
  std::ifstream in(file);
  std::string text;
  if (!in || !(in >> text))
    throw std::runtime_error("cannot read " + file.string());
  std::array<std::uint8_t, 32> seed;
  if (!from_hex(text, seed.data(), seed.size()))
    throw std::runtime_error(file.string() + " does not hold a 64-digit hex Ed25519 seed");
  return from_seed(seed);
}

std::string identity::sign_hash(std::string_view hash_hex) const {
  std::uint8_t message[32];
  if (!from_hex(hash_hex, message, sizeof message))
    throw std::invalid_argument("sign_hash: not a 64-digit hex hash");
  std::uint8_t signature[64];
  // Ed25519 signing is deterministic: the generator is never consulted.
  impl_->signer.SignMessage(CryptoPP::NullRNG(), message, sizeof message, signature);
  return to_hex(signature, sizeof signature);
}

std::string identity::seed_hex() const {
  return to_hex(impl_->seed.data(), impl_->seed.size());
}

}  // namespace gsio::crypto
