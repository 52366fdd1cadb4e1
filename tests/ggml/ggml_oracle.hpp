// ggml itself as the oracle: dlopen()s libggml-base.so from node-llama-cpp's
// prebuilt binaries (@node-llama-cpp/linux-x64 3.21.1) and declares only the
// few functions the ggml tests call. Used by make_ggml_golden.cpp and
// ggml_oracle_test.cpp; never by the CI tests.
#pragma once

#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace eigenq_test {

class GgmlOracle {
 public:
  // Mirror of ggml.h's struct ggml_type_traits (this version's layout; open() checks it).
  struct TypeTraits {
    const char* type_name;
    std::int64_t blck_size;
    std::int64_t blck_size_interleave;
    std::size_t type_size;
    bool is_quantized;
    void (*to_float)(const void* x, float* y, std::int64_t k);
    void (*from_float_ref)(const float* x, void* y, std::int64_t k);
  };
  struct Bf16 {
    std::uint16_t bits;
  };

  // Opens dir/libggml-base.so; on failure returns null and says why in *error.
  static std::unique_ptr<GgmlOracle> open(const std::string& dir, std::string* error) {
    const std::string path = dir + "/libggml-base.so";
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      *error = "dlopen(" + path + ") failed: " + dlerror();
      return nullptr;
    }
    std::unique_ptr<GgmlOracle> o(new GgmlOracle(handle));
    bool ok = o->bind(&o->quantize_chunk_, "ggml_quantize_chunk", error) &&
              o->bind(&o->get_type_traits_, "ggml_get_type_traits", error) &&
              o->bind(&o->row_size_, "ggml_row_size", error) && o->bind(&o->type_name_, "ggml_type_name", error) &&
              o->bind(&o->quantize_init_, "ggml_quantize_init", error) &&
              o->bind(&o->requires_imatrix_, "ggml_quantize_requires_imatrix", error) &&
              o->bind(&o->fp32_to_fp16_, "ggml_fp32_to_fp16", error) &&
              o->bind(&o->fp16_to_fp32_, "ggml_fp16_to_fp32", error) &&
              o->bind(&o->fp32_to_bf16_, "ggml_fp32_to_bf16", error);
    if (!ok) return nullptr;
    // The struct mirror must match: q4_0 is 32 elements in 18 bytes, named "q4_0".
    const TypeTraits* t = o->get_type_traits_(2);
    if (t == nullptr || t->blck_size != 32 || t->type_size != 18 || std::strcmp(t->type_name, "q4_0") != 0 ||
        !t->is_quantized || t->to_float == nullptr) {
      *error = "ggml_type_traits layout of " + path + " does not match the mirror in ggml_oracle.hpp";
      return nullptr;
    }
    return o;
  }

  ~GgmlOracle() { dlclose(handle_); }
  GgmlOracle(const GgmlOracle&) = delete;
  GgmlOracle& operator=(const GgmlOracle&) = delete;

  const TypeTraits* traits(int type) const { return get_type_traits_(type); }
  const char* type_name(int type) const { return type_name_(type); }
  std::size_t row_size(int type, std::int64_t n) const { return row_size_(type, n); }
  bool requires_imatrix(int type) const { return requires_imatrix_(type); }

  std::size_t quantize(int type, const float* src, void* dst, std::int64_t rows, std::int64_t n_per_row,
                       const float* imatrix) const {
    quantize_init_(type);
    return quantize_chunk_(type, src, dst, 0, rows, n_per_row, imatrix);
  }

  // ggml's to_float; for f32 (which has none) a copy.
  void to_float(int type, const void* src, float* dst, std::int64_t n) const {
    const TypeTraits* t = get_type_traits_(type);
    if (t->to_float == nullptr) {
      std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
    } else {
      t->to_float(src, dst, n);
    }
  }

  std::uint16_t fp32_to_fp16(float x) const { return fp32_to_fp16_(x); }
  float fp16_to_fp32(std::uint16_t h) const { return fp16_to_fp32_(h); }
  std::uint16_t fp32_to_bf16(float x) const { return fp32_to_bf16_(x).bits; }

 private:
  explicit GgmlOracle(void* handle) : handle_(handle) {}

  template <class Fn>
  bool bind(Fn* fn, const char* symbol, std::string* error) {
    void* p = dlsym(handle_, symbol);
    if (p == nullptr) {
      *error = std::string("libggml-base.so has no symbol ") + symbol;
      return false;
    }
    static_assert(sizeof(Fn) == sizeof(void*), "function pointer size");
    std::memcpy(fn, &p, sizeof p);
    return true;
  }

  void* handle_;
  std::size_t (*quantize_chunk_)(int, const float*, void*, std::int64_t, std::int64_t, std::int64_t,
                                 const float*) = nullptr;
  const TypeTraits* (*get_type_traits_)(int) = nullptr;
  std::size_t (*row_size_)(int, std::int64_t) = nullptr;
  const char* (*type_name_)(int) = nullptr;
  void (*quantize_init_)(int) = nullptr;
  bool (*requires_imatrix_)(int) = nullptr;
  std::uint16_t (*fp32_to_fp16_)(float) = nullptr;
  float (*fp16_to_fp32_)(std::uint16_t) = nullptr;
  Bf16 (*fp32_to_bf16_)(float) = nullptr;
};

}  // namespace eigenq_test
