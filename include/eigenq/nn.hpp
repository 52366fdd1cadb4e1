// Entry header of the nn layer: the layers (FloatLinear, DynamicLinear, StaticLinear,
// GroupedLinear, WeightOnlyLinear<Policy>, ChannelMixedLinear, ReLU), Sequential, and the
// model conversions (quantize_dynamic, quantize_static, quantize_grouped, quantize_mixed,
// quantize_mixed_per_channel, quantize_gptq, quantize_awq, quantize_weighted, to_mlp_model), the
// function-preserving rescalings (equalize, smooth) and InputScale, LayerNorm, GELU, attention.
//
//   #include <eigenq/nn.hpp>
//   auto dyn = eigenq::nn::quantize_dynamic(model);
//
// <eigenq/eigenq.hpp> does not include it. Saving and loading models is file I/O:
// <eigenq/io/model_file.hpp> (needs nlohmann_json, link eigenq::io).
#pragma once

#include "eigenq/nn/channel_mixed_linear.hpp"
#include "eigenq/nn/attention.hpp"
#include "eigenq/nn/convert.hpp"
#include "eigenq/nn/convert_methods.hpp"
#include "eigenq/nn/dynamic_linear.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/gelu.hpp"
#include "eigenq/nn/ggml_linear.hpp"
#include "eigenq/nn/grouped_linear.hpp"
#include "eigenq/nn/input_scale.hpp"
#include "eigenq/nn/layer_norm.hpp"
#include "eigenq/nn/model_statistics.hpp"
#include "eigenq/nn/module.hpp"
#include "eigenq/nn/rescale.hpp"
#include "eigenq/nn/sequential.hpp"
#include "eigenq/nn/static_linear.hpp"
#include "eigenq/nn/to_mlp_model.hpp"
#include "eigenq/nn/weight_only_linear.hpp"
