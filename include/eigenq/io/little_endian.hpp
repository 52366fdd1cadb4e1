// eigenq/io reads and writes little-endian files (npy '<', safetensors, GGUF) by copying bytes,
// so it supports little-endian hosts only; this header stops a build on any other.
#pragma once

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "eigenq/io reads and writes little-endian files and supports little-endian hosts only"
#endif
