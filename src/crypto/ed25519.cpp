// The fast verification path of ed25519.hpp: field arithmetic, points, scalar reduction and
// per-key tables.
//
// Over 600 lines on purpose: these are one implementation whose limb bounds (stated at each
// function) depend on each other; split, the bounds would have to be re-stated across files.
#include "crypto/ed25519.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <cryptopp/sha.h>

// Field elements of GF(2^255 - 19) in five 51-bit limbs, points on the twisted Edwards curve
// -x^2 + y^2 = 1 + d x^2 y^2 in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z, with
// the complete addition and doubling formulas of Hisil, Wong, Carter and Dawson (2008). Everything
// here works on public data (signatures, keys, messages), so nothing needs to run in constant time.
namespace gsio::crypto::ed25519 {

namespace {

using u64 = std::uint64_t;
using u128 = unsigned __int128;

constexpr u64 mask51 = (u64{1} << 51) - 1;

struct fe {
  u64 v[5];
};

constexpr fe fe_small(u64 x) { return {{x, 0, 0, 0, 0}}; }

// Limb bounds. Products, squares, differences and decoded values have limbs below 2^52. A sum
// is not carried (that is most of the cost of an addition), so its limbs are below 2^53 when
// both terms are below 2^52, and below 2^54 when one is such a sum. mul and sqr take limbs
// below 2^54; sub takes a first term below 2^54 and a second below 2^53 (never a sum of sums).
void carry(u64 (&r)[5]) {
  r[1] += r[0] >> 51;
  r[0] &= mask51;
  r[2] += r[1] >> 51;
  r[1] &= mask51;
  r[3] += r[2] >> 51;
  r[2] &= mask51;
  r[4] += r[3] >> 51;
  r[3] &= mask51;
  r[0] += 19 * (r[4] >> 51);
  r[4] &= mask51;
}

fe add(const fe& a, const fe& b) {
  fe r;
  for (int i = 0; i < 5; ++i)
    r.v[i] = a.v[i] + b.v[i];
  return r;
}

// a - b as a + 4p - b, which stays positive for b's limbs below 2^53.
fe sub(const fe& a, const fe& b) {
  constexpr u64 four_p0 = 4 * ((u64{1} << 51) - 19);
  constexpr u64 four_pi = 4 * ((u64{1} << 51) - 1);
  fe r;
  r.v[0] = a.v[0] + four_p0 - b.v[0];
  for (int i = 1; i < 5; ++i)
    r.v[i] = a.v[i] + four_pi - b.v[i];
  carry(r.v);
  return r;
}

fe neg(const fe& a) { return sub(fe_small(0), a); }

// The 128-bit column sums of a product, reduced to limbs below 2^52.
fe reduce(u128 r0, u128 r1, u128 r2, u128 r3, u128 r4) {
  fe out;
  r1 += static_cast<u64>(r0 >> 51);
  out.v[0] = static_cast<u64>(r0) & mask51;
  r2 += static_cast<u64>(r1 >> 51);
  out.v[1] = static_cast<u64>(r1) & mask51;
  r3 += static_cast<u64>(r2 >> 51);
  out.v[2] = static_cast<u64>(r2) & mask51;
  r4 += static_cast<u64>(r3 >> 51);
  out.v[3] = static_cast<u64>(r3) & mask51;
  out.v[4] = static_cast<u64>(r4) & mask51;
  // 2^255 = 19 (mod p): the carry out of the top limb wraps around times 19.
  const u128 wrapped = static_cast<u128>(out.v[0]) + (r4 >> 51) * 19;
  out.v[0] = static_cast<u64>(wrapped) & mask51;
  out.v[1] += static_cast<u64>(wrapped >> 51);
  return out;
}

fe mul(const fe& a, const fe& b) {
  const u64 b1_19 = b.v[1] * 19, b2_19 = b.v[2] * 19, b3_19 = b.v[3] * 19, b4_19 = b.v[4] * 19;
  const auto m = [](u64 x, u64 y) { return static_cast<u128>(x) * y; };
  const u64* x = a.v;
  return reduce(m(x[0], b.v[0]) + m(x[1], b4_19) + m(x[2], b3_19) + m(x[3], b2_19) + m(x[4], b1_19),
                m(x[0], b.v[1]) + m(x[1], b.v[0]) + m(x[2], b4_19) + m(x[3], b3_19) + m(x[4], b2_19),
                m(x[0], b.v[2]) + m(x[1], b.v[1]) + m(x[2], b.v[0]) + m(x[3], b4_19) + m(x[4], b3_19),
                m(x[0], b.v[3]) + m(x[1], b.v[2]) + m(x[2], b.v[1]) + m(x[3], b.v[0]) + m(x[4], b4_19),
                m(x[0], b.v[4]) + m(x[1], b.v[3]) + m(x[2], b.v[2]) + m(x[3], b.v[1]) + m(x[4], b.v[0]));
}

fe sqr(const fe& a) {
  const auto m = [](u64 x, u64 y) { return static_cast<u128>(x) * y; };
  const u64* x = a.v;
  const u64 x0_2 = 2 * x[0], x1_2 = 2 * x[1], x2_2 = 2 * x[2], x3_2 = 2 * x[3];
  const u64 x3_19 = 19 * x[3], x4_19 = 19 * x[4];
  return reduce(m(x[0], x[0]) + m(x1_2, x4_19) + m(x2_2, x3_19),
                m(x0_2, x[1]) + m(x2_2, x4_19) + m(x[3], x3_19),
                m(x0_2, x[2]) + m(x[1], x[1]) + m(x3_2, x4_19),
                m(x0_2, x[3]) + m(x1_2, x[2]) + m(x[4], x4_19),
                m(x0_2, x[4]) + m(x1_2, x[3]) + m(x[2], x[2]));
}

fe sqr_n(fe a, int n) {
  while (n-- > 0)
    a = sqr(a);
  return a;
}

// The canonical 32-byte little-endian encoding (the value reduced below p, bit 255 clear).
std::array<std::uint8_t, 32> to_bytes(const fe& a) {
  u64 r[5];
  std::copy(std::begin(a.v), std::end(a.v), r);
  carry(r);
  carry(r);  // now every limb is below 2^51, so the value is below 2^255
  // q = 1 exactly when the value is at least p = 2^255 - 19.
  u64 q = (r[0] + 19) >> 51;
  for (int i = 1; i < 5; ++i)
    q = (r[i] + q) >> 51;
  r[0] += 19 * q;
  for (int i = 0; i < 4; ++i) {
    r[i + 1] += r[i] >> 51;
    r[i] &= mask51;
  }
  r[4] &= mask51;
  const u64 words[4] = {r[0] | r[1] << 51, r[1] >> 13 | r[2] << 38, r[2] >> 26 | r[3] << 25,
                        r[3] >> 39 | r[4] << 12};
  std::array<std::uint8_t, 32> out;
  for (int w = 0; w < 4; ++w)
    for (int b = 0; b < 8; ++b)
      out[w * 8 + b] = static_cast<std::uint8_t>(words[w] >> (8 * b));
  return out;
}

u64 load64(const std::uint8_t* p) {
  u64 x = 0;
  for (int b = 7; b >= 0; --b)
    x = x << 8 | p[b];
  return x;
}

// Reads 255 bits; bit 255 (the sign of x in a point encoding) is ignored.
fe from_bytes(const std::uint8_t* s) {
  const u64 w0 = load64(s), w1 = load64(s + 8), w2 = load64(s + 16), w3 = load64(s + 24);
  return {{w0 & mask51, (w0 >> 51 | w1 << 13) & mask51, (w1 >> 38 | w2 << 26) & mask51,
           (w2 >> 25 | w3 << 39) & mask51, (w3 >> 12) & mask51}};
}

bool is_zero(const fe& a) {
  const auto bytes = to_bytes(a);
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

bool is_negative(const fe& a) { return to_bytes(a)[0] & 1; }

bool equal(const fe& a, const fe& b) { return is_zero(sub(a, b)); }

// z^(2^250 - 1), shared by inversion and square roots; also returns z^11 for inversion.
fe pow_2_250_minus_1(const fe& z, fe& z11) {
  const fe z2 = sqr(z);
  const fe z9 = mul(sqr_n(z2, 2), z);
  z11 = mul(z9, z2);
  const fe z_5 = mul(sqr(z11), z9);                 // 2^5 - 1
  const fe z_10 = mul(sqr_n(z_5, 5), z_5);          // 2^10 - 1
  const fe z_20 = mul(sqr_n(z_10, 10), z_10);       // 2^20 - 1
  const fe z_40 = mul(sqr_n(z_20, 20), z_20);       // 2^40 - 1
  const fe z_50 = mul(sqr_n(z_40, 10), z_10);       // 2^50 - 1
  const fe z_100 = mul(sqr_n(z_50, 50), z_50);      // 2^100 - 1
  const fe z_200 = mul(sqr_n(z_100, 100), z_100);   // 2^200 - 1
  return mul(sqr_n(z_200, 50), z_50);               // 2^250 - 1
}

// z^(p - 2) = 1/z (0 for 0).
fe invert(const fe& z) {
  fe z11;
  return mul(sqr_n(pow_2_250_minus_1(z, z11), 5), z11);  // 2^255 - 32 + 11
}

// z^((p - 5) / 8) = z^(2^252 - 3), the heart of the square root in point decoding.
fe pow_p58(const fe& z) {
  fe z11;
  return mul(sqr_n(pow_2_250_minus_1(z, z11), 2), z);
}

// z^e for a 256-bit little-endian exponent; used once, for a constant.
fe pow(const fe& z, const std::array<std::uint8_t, 32>& e) {
  fe r = fe_small(1);
  for (int bit = 255; bit >= 0; --bit) {
    r = sqr(r);
    if (e[bit / 8] >> (bit % 8) & 1)
      r = mul(r, z);
  }
  return r;
}

struct constants {
  fe d;       // -121665 / 121666
  fe d2;      // 2d
  fe sqrtm1;  // a square root of -1: 2^((p - 1) / 4)
};

const constants& curve() {
  static const constants c = [] {
    constants k;
    k.d = mul(neg(fe_small(121665)), invert(fe_small(121666)));
    k.d2 = add(k.d, k.d);
    std::array<std::uint8_t, 32> exponent;  // (p - 1) / 4 = 2^253 - 5
    exponent.fill(0xff);
    exponent[0] = 0xfb;
    exponent[31] = 0x1f;
    k.sqrtm1 = pow(fe_small(2), exponent);
    return k;
  }();
  return c;
}

struct point {
  fe X, Y, Z, T;
};

// An affine point prepared for mixed addition: y + x, y - x and 2dxy.
struct cached {
  fe y_plus_x, y_minus_x, xy_2d;
};

point identity() { return {fe_small(0), fe_small(1), fe_small(1), fe_small(0)}; }

point add(const point& p, const point& q) {
  const fe a = mul(sub(p.Y, p.X), sub(q.Y, q.X));
  const fe b = mul(add(p.Y, p.X), add(q.Y, q.X));
  const fe c = mul(mul(p.T, q.T), curve().d2);
  const fe zz = mul(p.Z, q.Z);
  const fe d = add(zz, zz);
  const fe e = sub(b, a), f = sub(d, c), g = add(d, c), h = add(b, a);
  return {mul(e, f), mul(g, h), mul(f, g), mul(e, h)};
}

// p + q, or p - q when `subtract` (negating q swaps y+x with y-x and negates 2dxy).
point add(const point& p, const cached& q, bool subtract) {
  const fe a = mul(sub(p.Y, p.X), subtract ? q.y_plus_x : q.y_minus_x);
  const fe b = mul(add(p.Y, p.X), subtract ? q.y_minus_x : q.y_plus_x);
  const fe c = mul(p.T, q.xy_2d);
  const fe d = add(p.Z, p.Z);
  const fe e = sub(b, a), h = add(b, a);
  const fe f = subtract ? add(d, c) : sub(d, c);
  const fe g = subtract ? sub(d, c) : add(d, c);
  return {mul(e, f), mul(g, h), mul(f, g), mul(e, h)};
}

point dbl(const point& p) {
  const fe a = sqr(p.X), b = sqr(p.Y), zz = sqr(p.Z);
  const fe c = add(zz, zz);
  const fe h = add(a, b);
  const fe e = sub(h, sqr(add(p.X, p.Y)));
  const fe g = sub(a, b);
  const fe f = add(c, g);
  return {mul(e, f), mul(g, h), mul(f, g), mul(e, h)};
}

bool is_identity(const point& p) { return is_zero(p.X) && equal(p.Y, p.Z); }

// Decodes a point from its canonical encoding (RFC 8032 5.1.3, with y below p required).
bool decode(const std::uint8_t* s, point& out) {
  const fe y = from_bytes(s);
  auto canonical = to_bytes(y);
  canonical[31] |= s[31] & 0x80;
  if (!std::equal(canonical.begin(), canonical.end(), s))
    return false;
  const bool x_negative = s[31] >> 7;
  const fe yy = sqr(y);
  const fe u = sub(yy, fe_small(1));
  const fe v = add(mul(curve().d, yy), fe_small(1));
  const fe v3 = mul(sqr(v), v);
  const fe v7 = mul(sqr(v3), v);
  fe x = mul(mul(u, v3), pow_p58(mul(u, v7)));
  const fe vxx = mul(v, sqr(x));
  if (!equal(vxx, u)) {
    if (!is_zero(add(vxx, u)))
      return false;  // u/v has no square root: not a point
    x = mul(x, curve().sqrtm1);
  }
  if (is_zero(x) && x_negative)
    return false;
  if (is_negative(x) != x_negative)
    x = neg(x);
  out = {x, y, fe_small(1), mul(x, y)};
  return true;
}

// The point a key encodes, if it is a usable key: canonical, on the curve, not of small order
// ([8]A is not the neutral point).
std::optional<point> usable_point(const std::uint8_t* public_key) {
  point a;
  if (!decode(public_key, a) || is_identity(dbl(dbl(dbl(a)))))
    return std::nullopt;
  return a;
}

// Fixed-base multiplication by signed digits of window_bits bits: s = sum e[i] 2^(w i) with
// e[i] in [-2^(w-1), 2^(w-1)], enough digits for any s below 2^253 (S and k both are). A digit at
// an even position 2m takes entry |e| of row m, which holds 1..2^(w-1) times 2^(2 w m) P. The
// odd positions use the same rows and their sum is multiplied by 2^w with w doublings, which
// halves the table.
constexpr int window_bits = 7;
constexpr int digit_count = (253 + window_bits - 1) / window_bits;
constexpr int row_count = (digit_count + 1) / 2;
constexpr int row_size = 1 << (window_bits - 1);
static_assert(window_bits >= 2 && window_bits <= 8, "digits are int8_t, at most 2^(w-1) in size");

struct table {
  std::array<std::array<cached, row_size>, row_count> rows;
};

std::unique_ptr<const table> make_table(const point& p) {
  constexpr int count = row_count * row_size;
  std::vector<point> multiples(count);
  point base = p;
  for (int row = 0; row < row_count; ++row) {
    multiples[row * row_size] = base;
    for (int j = 1; j < row_size; ++j)
      multiples[row * row_size + j] = add(multiples[row * row_size + j - 1], base);
    for (int k = 0; k < 2 * window_bits; ++k)
      base = dbl(base);
  }
  // One inversion for all the points (Montgomery's trick): prefix[i] = Z_0 ... Z_i.
  std::vector<fe> prefix(count);
  prefix[0] = multiples[0].Z;
  for (int i = 1; i < count; ++i)
    prefix[i] = mul(prefix[i - 1], multiples[i].Z);
  fe inverse = invert(prefix[count - 1]);  // 1 / (Z_0 ... Z_last)
  auto out = std::make_unique<table>();
  for (int i = count - 1; i >= 0; --i) {
    const fe z_inverse = i > 0 ? mul(inverse, prefix[i - 1]) : inverse;
    if (i > 0)
      inverse = mul(inverse, multiples[i].Z);
    const fe x = mul(multiples[i].X, z_inverse), y = mul(multiples[i].Y, z_inverse);
    out->rows[i / row_size][i % row_size] = {add(y, x), sub(y, x), mul(mul(x, y), curve().d2)};
  }
  return out;
}

const table& base_table() {
  static const std::unique_ptr<const table> t = [] {
    // B is the point with y = 4/5 and x positive (even).
    std::array<std::uint8_t, 32> encoding = to_bytes(mul(fe_small(4), invert(fe_small(5))));
    point b;
    if (!decode(encoding.data(), b))
      std::abort();  // unreachable: 4/5 is the y of a curve point
    return make_table(b);
  }();
  return *t;
}

// --- Scalars modulo the group order L = 2^252 + 27742317777372353535851937790883648493 ---

using u256 = std::array<u64, 4>;  // little-endian words

constexpr u256 group_order{0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL};

template <std::size_t N>
bool less_than_order(const std::array<u64, N>& x) {
  for (std::size_t i = N; i-- > 4;)
    if (x[i] != 0)
      return false;
  for (int i = 3; i >= 0; --i)
    if (x[i] != group_order[i])
      return x[i] < group_order[i];
  return false;
}

// x -= L over N words (x >= L).
template <std::size_t N>
void subtract_order(std::array<u64, N>& x) {
  u64 borrow = 0;
  for (std::size_t i = 0; i < N; ++i) {
    const u64 l = i < 4 ? group_order[i] : 0;
    const u128 d = static_cast<u128>(x[i]) - l - borrow;
    x[i] = static_cast<u64>(d);
    borrow = static_cast<u64>(d >> 64) & 1;
  }
}

// floor(2^512 / L), for Barrett reduction; five words (it is just above 2^259).
const std::array<u64, 5>& barrett_mu() {
  static const std::array<u64, 5> mu = [] {
    std::array<u64, 5> quotient{};
    std::array<u64, 5> remainder{};
    for (int bit = 512; bit >= 0; --bit) {
      u64 carry_bit = bit == 512 ? 1 : 0;  // the dividend 2^512 has one bit set
      for (auto& word : remainder) {
        const u64 next = word >> 63;
        word = word << 1 | carry_bit;
        carry_bit = next;
      }
      if (!less_than_order(remainder)) {  // first true at bit 260: the quotient fits 5 words
        subtract_order(remainder);
        quotient[bit / 64] |= u64{1} << (bit % 64);
      }
    }
    return quotient;
  }();
  return mu;
}

// x mod L for a 512-bit little-endian x (Menezes et al., Handbook of Applied Cryptography 14.42,
// base 2^64, k = 4).
u256 reduce_512(const std::uint8_t* bytes) {
  std::array<u64, 8> x;
  for (int i = 0; i < 8; ++i)
    x[i] = load64(bytes + 8 * i);
  const auto& mu = barrett_mu();
  // q3 = floor(floor(x / 2^192) * mu / 2^320)
  std::array<u64, 10> q2{};
  for (int i = 0; i < 5; ++i) {
    u64 c = 0;
    for (int j = 0; j < 5; ++j) {
      const u128 t = static_cast<u128>(x[3 + i]) * mu[j] + q2[i + j] + c;
      q2[i + j] = static_cast<u64>(t);
      c = static_cast<u64>(t >> 64);
    }
    q2[i + 5] = c;
  }
  // r = (x - q3 * L) mod 2^320
  std::array<u64, 5> qL{};
  for (int i = 0; i < 5; ++i) {
    u64 c = 0;
    for (int j = 0; j + i < 5 && j < 4; ++j) {
      const u128 t = static_cast<u128>(q2[5 + i]) * group_order[j] + qL[i + j] + c;
      qL[i + j] = static_cast<u64>(t);
      c = static_cast<u64>(t >> 64);
    }
    if (i + 4 < 5)
      qL[i + 4] += c;
  }
  std::array<u64, 5> r;
  u64 borrow = 0;
  for (int i = 0; i < 5; ++i) {
    const u128 d = static_cast<u128>(x[i]) - qL[i] - borrow;
    r[i] = static_cast<u64>(d);
    borrow = static_cast<u64>(d >> 64) & 1;
  }
  while (!less_than_order(r))
    subtract_order(r);  // at most twice
  return {r[0], r[1], r[2], r[3]};
}

// The signed digits of a little-endian scalar below 2^253 (see table).
std::array<std::int8_t, digit_count> signed_digits(const std::uint8_t* s) {
  u64 words[4];
  for (int i = 0; i < 4; ++i)
    words[i] = load64(s + 8 * i);
  constexpr int base = 1 << window_bits;
  std::array<std::int8_t, digit_count> e;
  int carry_digit = 0;
  for (int i = 0; i < digit_count; ++i) {
    const int bit = window_bits * i, word = bit / 64, offset = bit % 64;
    u64 window = word < 4 ? words[word] >> offset : 0;
    if (offset > 64 - window_bits && word < 3)
      window |= words[word + 1] << (64 - offset);
    const int digit = static_cast<int>(window & (base - 1)) + carry_digit;
    carry_digit = i + 1 < digit_count ? (digit + base / 2) / base : 0;  // the top digit keeps it
    e[i] = static_cast<std::int8_t>(digit - carry_digit * base);
  }
  return e;
}

void add_digit(point& h, const table& t, int row, int digit, bool negate) {
  if (digit == 0)
    return;
  const bool negative = (digit < 0) != negate;
  h = add(h, t.rows[row][std::abs(digit) - 1], negative);
}

// --- Tables for the keys in use ---

using key_bytes = std::array<std::uint8_t, 32>;

class key_tables {
public:
  // The key's table, or null: the key is new (it gets one the next time it is seen), the fast
  // path does not handle it (see the header), or every table is in use (see has_room).
  std::shared_ptr<const table> find(const std::uint8_t* public_key) {
    key_bytes key;
    std::copy_n(public_key, 32, key.begin());
    {
      std::lock_guard lock(mutex_);
      ++clock_;
      if (auto* slot = slot_of(key)) {
        slot->last_used = clock_;
        return slot->tables;
      }
      if (std::find(seen_once_.begin(), seen_once_.end(), key) == seen_once_.end()) {
        if (seen_once_.size() < max_seen_once)
          seen_once_.push_back(key);
        else
          seen_once_[clock_ % max_seen_once] = key;
        return nullptr;
      }
      if (!has_room())
        return nullptr;
    }
    // Keys that are not usable get no slot: they would only keep slots from keys that sign
    // valid entries.
    const auto a = usable_point(key.data());
    if (!a)
      return nullptr;
    std::shared_ptr<const table> built = make_table(*a);
    std::lock_guard lock(mutex_);
    if (auto* slot = slot_of(key))  // another thread built it meanwhile
      return slot->tables;
    if (!has_room())
      return built;  // taken meanwhile: use the table this once
    if (slots_.size() < tables_kept)
      slots_.push_back({key, built, clock_});
    else
      *least_recently_used() = {key, built, clock_};
    return built;
  }

  void clear() {
    std::lock_guard lock(mutex_);
    slots_.clear();
    seen_once_.clear();
  }

private:
  struct slot {
    key_bytes key;
    std::shared_ptr<const table> tables;
    u64 last_used = 0;
  };

  slot* slot_of(const key_bytes& key) {
    for (auto& s : slots_)
      if (s.key == key)
        return &s;
    return nullptr;
  }

  std::vector<slot>::iterator least_recently_used() {
    return std::min_element(slots_.begin(), slots_.end(), [](const auto& x, const auto& y) {
      return x.last_used < y.last_used;
    });
  }

  // Whether a new key may have a table: while slots are free, or by evicting the least recently
  // used key if it has been idle for table_idle_lookups. Keys in steady use are never evicted,
  // so more signing keys than slots (or a peer sending entries by many keys) leave the extra keys
  // to Crypto++ instead of making every lookup rebuild a table.
  bool has_room() {
    return slots_.size() < tables_kept ||
           clock_ - least_recently_used()->last_used > table_idle_lookups;
  }

  static constexpr std::size_t max_seen_once = 64;
  std::mutex mutex_;
  std::vector<slot> slots_;
  std::vector<key_bytes> seen_once_;
  u64 clock_ = 0;  // counts lookups
};

key_tables& tables_in_use() {
  static key_tables tables;
  return tables;
}

}  // namespace

namespace {

// [S]B - [k]A for a signature the fast path handles (see the header), else nullopt.
std::optional<point> candidate_r(const std::uint8_t* public_key, const std::uint8_t* message,
                                 std::size_t message_size, const std::uint8_t* signature) {
  const std::uint8_t* r = signature;
  const std::uint8_t* s = signature + 32;
  if (!canonical_s(signature))
    return std::nullopt;
  const auto key_table = tables_in_use().find(public_key);
  if (!key_table)
    return std::nullopt;

  std::uint8_t digest[64];
  CryptoPP::SHA512 hash;
  hash.Update(r, 32);
  hash.Update(public_key, 32);
  hash.Update(message, message_size);
  hash.Final(digest);
  const u256 k_words = reduce_512(digest);
  std::uint8_t k[32];
  for (int i = 0; i < 32; ++i)
    k[i] = static_cast<std::uint8_t>(k_words[i / 8] >> (8 * (i % 8)));

  // The odd digits of both scalars, times 2^window_bits, then the even ones.
  const auto s_digits = signed_digits(s);
  const auto k_digits = signed_digits(k);
  const table& b_table = base_table();
  point h = identity();
  for (int i = 1; i < digit_count; i += 2) {
    add_digit(h, b_table, i / 2, s_digits[i], false);
    add_digit(h, *key_table, i / 2, k_digits[i], true);
  }
  for (int k = 0; k < window_bits; ++k)
    h = dbl(h);
  for (int i = 0; i < digit_count; i += 2) {
    add_digit(h, b_table, i / 2, s_digits[i], false);
    add_digit(h, *key_table, i / 2, k_digits[i], true);
  }
  return h;
}

bool encodes_as(const point& p, const fe& z_inverse, const std::uint8_t* encoding) {
  auto bytes = to_bytes(mul(p.Y, z_inverse));
  bytes[31] |= static_cast<std::uint8_t>(is_negative(mul(p.X, z_inverse)) << 7);
  return std::equal(bytes.begin(), bytes.end(), encoding);
}

}  // namespace

bool verify_if_fast(const std::uint8_t* public_key, const std::uint8_t* message,
                    std::size_t message_size, const std::uint8_t* signature) {
  const auto r = candidate_r(public_key, message, message_size, signature);
  return r && encodes_as(*r, invert(r->Z), signature);
}

void verify_batch_if_fast(const signature_job* jobs, std::size_t count, bool* valid) {
  std::vector<std::optional<point>> candidates(count);
  // Montgomery's trick again: one inversion for the Z of every candidate.
  std::vector<fe> prefix;
  prefix.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto& job = jobs[i];
    candidates[i] = candidate_r(job.public_key, job.message, sizeof job.message, job.signature);
    if (candidates[i])
      prefix.push_back(prefix.empty() ? candidates[i]->Z : mul(prefix.back(), candidates[i]->Z));
  }
  fe inverse = prefix.empty() ? fe_small(0) : invert(prefix.back());
  std::size_t n = prefix.size();
  for (std::size_t i = count; i-- > 0;) {
    valid[i] = false;
    if (!candidates[i])
      continue;
    --n;
    const fe z_inverse = n > 0 ? mul(inverse, prefix[n - 1]) : inverse;
    if (n > 0)
      inverse = mul(inverse, candidates[i]->Z);
    valid[i] = encodes_as(*candidates[i], z_inverse, jobs[i].signature);
  }
}

bool canonical_s(const std::uint8_t* signature) {
  u256 s;
  for (int i = 0; i < 4; ++i)
    s[i] = load64(signature + 32 + 8 * i);
  return less_than_order(s);
}

bool usable_key(const std::uint8_t* public_key) { return usable_point(public_key).has_value(); }

void forget_keys() { tables_in_use().clear(); }

}  // namespace gsio::crypto::ed25519
