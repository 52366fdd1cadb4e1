// ggml's GGUF reader and writer from libggml-base.so (npm @node-llama-cpp/linux-x64@3.21.1, ggml
// 0.23), dlopened: the functions the GGUF oracle tests call, declared with the signatures of
// ggml's gguf.h and ggml.h, and a file opened by ggml's gguf_init_from_file. Shared by
// gguf_oracle_test.cpp (the library's reader and writer) and cli_gguf_oracle_test.cpp (the
// files the eigenq tool writes). Loads when EIGENQ_GGML_LIB_DIR names the folder holding the
// library; SKIP_WITHOUT_GGML() skips a test otherwise. expect_same_in_both() compares what
// ggml's reader and eigenq's see in a file.
#pragma once

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "eigenq/io/gguf.hpp"

namespace gguf_oracle {

extern "C" {
struct gguf_context;
struct ggml_context;
struct ggml_tensor;
struct gguf_init_params {
  bool no_alloc;
  ggml_context** ctx;
};
struct ggml_init_params {
  std::size_t mem_size;
  void* mem_buffer;
  bool no_alloc;
};
}

// The functions of libggml-base.so the test calls (enums as int: ggml passes them as int).
struct Ggml {
  gguf_context* (*gguf_init_from_file)(const char*, gguf_init_params) = nullptr;
  gguf_context* (*gguf_init_empty)() = nullptr;
  void (*gguf_free)(gguf_context*) = nullptr;
  std::uint32_t (*gguf_get_version)(const gguf_context*) = nullptr;
  std::size_t (*gguf_get_alignment)(const gguf_context*) = nullptr;
  std::size_t (*gguf_get_data_offset)(const gguf_context*) = nullptr;
  std::int64_t (*gguf_get_n_kv)(const gguf_context*) = nullptr;
  const char* (*gguf_get_key)(const gguf_context*, std::int64_t) = nullptr;
  int (*gguf_get_kv_type)(const gguf_context*, std::int64_t) = nullptr;
  int (*gguf_get_arr_type)(const gguf_context*, std::int64_t) = nullptr;
  std::size_t (*gguf_get_arr_n)(const gguf_context*, std::int64_t) = nullptr;
  const void* (*gguf_get_arr_data)(const gguf_context*, std::int64_t) = nullptr;
  const char* (*gguf_get_arr_str)(const gguf_context*, std::int64_t, std::size_t) = nullptr;
  const void* (*gguf_get_val_data)(const gguf_context*, std::int64_t) = nullptr;
  const char* (*gguf_get_val_str)(const gguf_context*, std::int64_t) = nullptr;
  std::int64_t (*gguf_get_n_tensors)(const gguf_context*) = nullptr;
  const char* (*gguf_get_tensor_name)(const gguf_context*, std::int64_t) = nullptr;
  int (*gguf_get_tensor_type)(const gguf_context*, std::int64_t) = nullptr;
  const std::int64_t* (*gguf_get_tensor_ne)(const gguf_context*, std::int64_t) = nullptr;
  std::size_t (*gguf_get_tensor_offset)(const gguf_context*, std::int64_t) = nullptr;
  std::size_t (*gguf_get_tensor_size)(const gguf_context*, std::int64_t) = nullptr;
  void (*gguf_set_val_u8)(gguf_context*, const char*, std::uint8_t) = nullptr;
  void (*gguf_set_val_i8)(gguf_context*, const char*, std::int8_t) = nullptr;
  void (*gguf_set_val_u16)(gguf_context*, const char*, std::uint16_t) = nullptr;
  void (*gguf_set_val_i16)(gguf_context*, const char*, std::int16_t) = nullptr;
  void (*gguf_set_val_u32)(gguf_context*, const char*, std::uint32_t) = nullptr;
  void (*gguf_set_val_i32)(gguf_context*, const char*, std::int32_t) = nullptr;
  void (*gguf_set_val_f32)(gguf_context*, const char*, float) = nullptr;
  void (*gguf_set_val_u64)(gguf_context*, const char*, std::uint64_t) = nullptr;
  void (*gguf_set_val_i64)(gguf_context*, const char*, std::int64_t) = nullptr;
  void (*gguf_set_val_f64)(gguf_context*, const char*, double) = nullptr;
  void (*gguf_set_val_bool)(gguf_context*, const char*, bool) = nullptr;
  void (*gguf_set_val_str)(gguf_context*, const char*, const char*) = nullptr;
  void (*gguf_set_arr_data)(gguf_context*, const char*, int, const void*, std::size_t) = nullptr;
  void (*gguf_set_arr_str)(gguf_context*, const char*, const char**, std::size_t) = nullptr;
  void (*gguf_add_tensor)(gguf_context*, const ggml_tensor*) = nullptr;
  bool (*gguf_write_to_file)(const gguf_context*, const char*, bool) = nullptr;
  ggml_context* (*ggml_init)(ggml_init_params) = nullptr;
  void (*ggml_free)(ggml_context*) = nullptr;
  ggml_tensor* (*ggml_new_tensor)(ggml_context*, int, int, const std::int64_t*) = nullptr;
  ggml_tensor* (*ggml_set_name)(ggml_tensor*, const char*) = nullptr;
  ggml_tensor* (*ggml_get_tensor)(ggml_context*, const char*) = nullptr;
  void* (*ggml_get_data)(const ggml_tensor*) = nullptr;
  std::int64_t (*ggml_blck_size)(int) = nullptr;
  const char* (*ggml_version)() = nullptr;

  std::string error;

  static const Ggml& get() {
    static const Ggml g = load();
    return g;
  }

 private:
  template <class F>
  static void bind(void* lib, F& f, const char* name, std::string& error) {
    f = reinterpret_cast<F>(::dlsym(lib, name));
    if (f == nullptr && error.empty()) error = std::string("libggml-base.so has no ") + name;
  }

  static Ggml load() {
    Ggml g;
    const char* dir = std::getenv("EIGENQ_GGML_LIB_DIR");
    if (dir == nullptr || *dir == '\0') {
      g.error = "EIGENQ_GGML_LIB_DIR is not set; set it to the folder holding libggml-base.so (npm package "
                "@node-llama-cpp/linux-x64@3.21.1, bins/linux-x64) to compare with ggml";
      return g;
    }
    const std::string path = std::string(dir) + "/libggml-base.so";
    void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      g.error = "cannot load " + path + ": " + ::dlerror();
      return g;
    }
#define EIGENQ_BIND(name) bind(lib, g.name, #name, g.error)
    EIGENQ_BIND(gguf_init_from_file);
    EIGENQ_BIND(gguf_init_empty);
    EIGENQ_BIND(gguf_free);
    EIGENQ_BIND(gguf_get_version);
    EIGENQ_BIND(gguf_get_alignment);
    EIGENQ_BIND(gguf_get_data_offset);
    EIGENQ_BIND(gguf_get_n_kv);
    EIGENQ_BIND(gguf_get_key);
    EIGENQ_BIND(gguf_get_kv_type);
    EIGENQ_BIND(gguf_get_arr_type);
    EIGENQ_BIND(gguf_get_arr_n);
    EIGENQ_BIND(gguf_get_arr_data);
    EIGENQ_BIND(gguf_get_arr_str);
    EIGENQ_BIND(gguf_get_val_data);
    EIGENQ_BIND(gguf_get_val_str);
    EIGENQ_BIND(gguf_get_n_tensors);
    EIGENQ_BIND(gguf_get_tensor_name);
    EIGENQ_BIND(gguf_get_tensor_type);
    EIGENQ_BIND(gguf_get_tensor_ne);
    EIGENQ_BIND(gguf_get_tensor_offset);
    EIGENQ_BIND(gguf_get_tensor_size);
    EIGENQ_BIND(gguf_set_val_u8);
    EIGENQ_BIND(gguf_set_val_i8);
    EIGENQ_BIND(gguf_set_val_u16);
    EIGENQ_BIND(gguf_set_val_i16);
    EIGENQ_BIND(gguf_set_val_u32);
    EIGENQ_BIND(gguf_set_val_i32);
    EIGENQ_BIND(gguf_set_val_f32);
    EIGENQ_BIND(gguf_set_val_u64);
    EIGENQ_BIND(gguf_set_val_i64);
    EIGENQ_BIND(gguf_set_val_f64);
    EIGENQ_BIND(gguf_set_val_bool);
    EIGENQ_BIND(gguf_set_val_str);
    EIGENQ_BIND(gguf_set_arr_data);
    EIGENQ_BIND(gguf_set_arr_str);
    EIGENQ_BIND(gguf_add_tensor);
    EIGENQ_BIND(gguf_write_to_file);
    EIGENQ_BIND(ggml_init);
    EIGENQ_BIND(ggml_free);
    EIGENQ_BIND(ggml_new_tensor);
    EIGENQ_BIND(ggml_set_name);
    EIGENQ_BIND(ggml_get_tensor);
    EIGENQ_BIND(ggml_get_data);
    EIGENQ_BIND(ggml_blck_size);
    EIGENQ_BIND(ggml_version);
#undef EIGENQ_BIND
    return g;  // the library stays loaded for the life of the process
  }
};

#define SKIP_WITHOUT_GGML()                                \
  do {                                                     \
    if (!Ggml::get().error.empty()) GTEST_SKIP() << Ggml::get().error; \
  } while (false)

// A file opened by ggml (tensor data loaded into a ggml context).
class GgmlFile {
 public:
  explicit GgmlFile(const std::string& path) {
    gguf_init_params params{false, &data_};
    ctx_ = Ggml::get().gguf_init_from_file(path.c_str(), params);
  }
  ~GgmlFile() {
    if (ctx_) Ggml::get().gguf_free(ctx_);
    if (data_) Ggml::get().ggml_free(data_);
  }
  GgmlFile(const GgmlFile&) = delete;
  GgmlFile& operator=(const GgmlFile&) = delete;
  const gguf_context* ctx() const { return ctx_; }
  const std::uint8_t* tensor_data(const char* name) const {
    return static_cast<const std::uint8_t*>(Ggml::get().ggml_get_data(Ggml::get().ggml_get_tensor(data_, name)));
  }

 private:
  gguf_context* ctx_ = nullptr;
  ggml_context* data_ = nullptr;
};

// What the comparisons covered, printed at the end of each test.
struct Tally {
  int files = 0;
  int keys = 0;
  int tensors = 0;
  std::uint64_t bytes = 0;
};

// Everything ggml's reader sees in `path` equals what eigenq's reader sees.
inline void expect_same_in_both(const std::string& path, Tally& tally) {
  const Ggml& g = Ggml::get();
  const GgmlFile theirs(path);
  ASSERT_NE(theirs.ctx(), nullptr) << "ggml cannot read " << path;
  const eigenq::io::GgufFile ours(path);
  const gguf_context* c = theirs.ctx();

  EXPECT_EQ(g.gguf_get_version(c), ours.version());
  EXPECT_EQ(g.gguf_get_alignment(c), ours.alignment());
  EXPECT_EQ(g.gguf_get_data_offset(c), ours.data_offset());
  ASSERT_EQ(g.gguf_get_n_kv(c), static_cast<std::int64_t>(ours.metadata().size()));
  for (std::int64_t i = 0; i < g.gguf_get_n_kv(c); ++i) {
    const auto& [key, v] = ours.metadata()[static_cast<std::size_t>(i)];
    SCOPED_TRACE(key);
    EXPECT_EQ(std::string(g.gguf_get_key(c, i)), key);
    ASSERT_EQ(g.gguf_get_kv_type(c, i), static_cast<int>(v.type()));
    if (v.type() == eigenq::io::GgufType::string) {
      EXPECT_EQ(std::string(g.gguf_get_val_str(c, i)), v.str());
    } else if (!v.is_array()) {
      EXPECT_EQ(std::memcmp(g.gguf_get_val_data(c, i), v.raw_bytes().data(), v.raw_bytes().size()), 0);
    } else {
      ASSERT_EQ(g.gguf_get_arr_type(c, i), static_cast<int>(v.element_type()));
      ASSERT_EQ(g.gguf_get_arr_n(c, i), v.size());
      if (v.element_type() == eigenq::io::GgufType::string) {
        for (std::size_t k = 0; k < v.size(); ++k) EXPECT_EQ(std::string(g.gguf_get_arr_str(c, i, k)), v.strings()[k]);
      } else if (v.size() > 0) {
        EXPECT_EQ(std::memcmp(g.gguf_get_arr_data(c, i), v.raw_bytes().data(), v.raw_bytes().size()), 0);
      }
    }
    ++tally.keys;
  }
  ASSERT_EQ(g.gguf_get_n_tensors(c), static_cast<std::int64_t>(ours.tensors().size()));
  for (std::int64_t i = 0; i < g.gguf_get_n_tensors(c); ++i) {
    const auto& t = ours.tensors()[static_cast<std::size_t>(i)];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(std::string(g.gguf_get_tensor_name(c, i)), t.name);
    EXPECT_EQ(g.gguf_get_tensor_type(c, i), static_cast<int>(t.type));
    const std::int64_t* ne = g.gguf_get_tensor_ne(c, i);
    for (std::size_t d = 0; d < 4; ++d) EXPECT_EQ(ne[d], d < t.ne.size() ? t.ne[d] : 1) << "ne[" << d << "]";
    EXPECT_EQ(g.gguf_get_tensor_offset(c, i), t.offset);
    EXPECT_EQ(g.gguf_get_tensor_size(c, i), t.bytes);
    const auto view = ours.tensor(t.name);
    EXPECT_EQ(std::memcmp(theirs.tensor_data(t.name.c_str()), view.data(), view.bytes()), 0);
    ++tally.tensors;
    tally.bytes += t.bytes;
  }
  ++tally.files;
}

}  // namespace gguf_oracle
