// Library version. Kept equal to project(VERSION) in CMakeLists.txt (configure checks it).
#pragma once

#define EIGENQ_VERSION_MAJOR 0
#define EIGENQ_VERSION_MINOR 2
#define EIGENQ_VERSION_PATCH 0

// One comparable number: MAJOR * 10000 + MINOR * 100 + PATCH (0.1.0 -> 100).
#define EIGENQ_VERSION \
  (EIGENQ_VERSION_MAJOR * 10000 + EIGENQ_VERSION_MINOR * 100 + EIGENQ_VERSION_PATCH)

#define EIGENQ_DETAIL_STRINGIFY_(x) #x
#define EIGENQ_DETAIL_STRINGIFY(x) EIGENQ_DETAIL_STRINGIFY_(x)

namespace eigenq {

// "MAJOR.MINOR.PATCH", e.g. "0.1.0".
inline const char* version_string() noexcept {
  return EIGENQ_DETAIL_STRINGIFY(EIGENQ_VERSION_MAJOR) "." EIGENQ_DETAIL_STRINGIFY(
      EIGENQ_VERSION_MINOR) "." EIGENQ_DETAIL_STRINGIFY(EIGENQ_VERSION_PATCH);
}

}  // namespace eigenq
