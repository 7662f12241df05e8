#pragma once
// Element and group-scale formats by their widths, for the unit tests.
#include "ref/format/format.h"

namespace mls::test {

inline ElemFormat efmt(int e, int m) { return ElemFormat{e, m}; }
inline ScaleFormat sfmt(int e, int m) { return ScaleFormat{e, m}; }

}  // namespace mls::test
