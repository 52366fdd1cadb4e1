// Umbrella header of the file layer: .npy and safetensors readers/writers and
// the eigenq quantized file format. Needs nlohmann_json (link eigenq::io);
// <eigenq/eigenq.hpp> does not include it.
#pragma once

#include "eigenq/io/atomic_file.hpp"
#include "eigenq/io/calibration_stats.hpp"
#include "eigenq/io/dtype.hpp"
#include "eigenq/io/gguf.hpp"
#include "eigenq/io/mapped_file.hpp"
#include "eigenq/io/npy.hpp"
#include "eigenq/io/quantized_format.hpp"
#include "eigenq/io/safetensors.hpp"
