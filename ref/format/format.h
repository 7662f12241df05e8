#pragma once
// The MLS number format (docs/reference.md#the-mls-number-format): element mini-floats <E_x, M_x> held as an
// integer magnitude q in units of u = 2^(emin - M_x), and group scales <E_g, M_g>.
#include <cstdint>
#include <string>

namespace mls {

struct ElemFormat {
  int e = 2;  // E_x in [0, 4]
  int m = 4;  // M_x in [0, 12], e + m >= 1

  int emin() const { return 1 - (1 << e); }
  int unit_exp() const { return emin() - m; }  // u = 2^unit_exp
  int bits() const { return 1 + e + m; }
  // Width of the integer magnitude q.
  int q_bits() const { return e == 0 ? m : m + (1 << e) - 1; }
  int64_t max_q() const {
    return e == 0 ? (int64_t{1} << m) - 1 : ((int64_t{2} << m) - 1) << ((1 << e) - 2);
  }
  std::string name() const;
  bool operator==(const ElemFormat& o) const { return e == o.e && m == o.m; }
};

struct ScaleFormat {
  int e = 8;  // E_g in [0, 8]
  int m = 1;  // M_g in [0, 3]: with M_g >= 2 the group scaler is a multiplier (hw_model/datapath)

  int min_exp() const { return 1 - (1 << e); }
  std::string name() const;
  bool operator==(const ScaleFormat& o) const { return e == o.e && m == o.m; }
};

// "e2m4" -> ElemFormat; throws mls::Error naming the text on a bad or
// out-of-range name.
ElemFormat parse_elem_format(const std::string& text);
ScaleFormat parse_scale_format(const std::string& text);

// The hardware encoding of one element: sign, exponent code and mantissa code,
// packed as sign << (E+M) | exp_code << M | man_code. exp_code 0 is the denormal
// (or, for E = 0, fixed-point) range; exp_code b+1 is normal binade b.
struct ElemCode {
  bool sign = false;
  uint32_t exp_code = 0;
  uint32_t man_code = 0;
};

// q must be a representable magnitude of fmt (checked: throws otherwise).
ElemCode encode_q(const ElemFormat& fmt, int64_t q, bool sign);
uint32_t pack(const ElemFormat& fmt, const ElemCode& code);
ElemCode unpack(const ElemFormat& fmt, uint32_t bits);
// Inverse of encode_q: the magnitude q of a code.
int64_t decode_q(const ElemFormat& fmt, const ElemCode& code);
bool is_representable(const ElemFormat& fmt, int64_t q);

// A group scale (1 + man / 2^M_g) * 2^exp.
struct GroupScale {
  int16_t exp = 0;
  uint8_t man = 0;
};
double group_scale_value(const ScaleFormat& fmt, GroupScale s);

}  // namespace mls
