// Umbrella header: everything eigenq offers without optional dependencies.
// (The file readers/writers need nlohmann_json: include <eigenq/io.hpp>.)
#pragma once

#include "eigenq/version.hpp"

#include "eigenq/core/code_storage.hpp"
#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/packing.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/core/rounding.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"

#include "eigenq/policy/choose_params.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/quantizer/double_quant.hpp"
#include "eigenq/policy/exp.hpp"
#include "eigenq/policy/kmeans_1d.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/linear_real_offset.hpp"
#include "eigenq/policy/log.hpp"
#include "eigenq/policy/policy.hpp"

#include "eigenq/calibrate/histogram.hpp"
#include "eigenq/calibrate/kl_entropy.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/calibrate/moving_average.hpp"
#include "eigenq/calibrate/mse_clip.hpp"
#include "eigenq/calibrate/observer.hpp"
#include "eigenq/calibrate/percentile.hpp"

#include "eigenq/quantizer/quantizer.hpp"

#include "eigenq/kernels/elementwise.hpp"
#include "eigenq/kernels/fixed_point.hpp"
#include "eigenq/kernels/gemm.hpp"
#include "eigenq/kernels/gemv_int4.hpp"
#include "eigenq/kernels/isa.hpp"

#include "eigenq/analysis/activation_calibration.hpp"
#include "eigenq/analysis/json_writer.hpp"
#include "eigenq/analysis/method_schemes.hpp"
#include "eigenq/analysis/metrics.hpp"
#include "eigenq/analysis/mixed_precision.hpp"
#include "eigenq/analysis/mlp_model.hpp"
#include "eigenq/analysis/model.hpp"
#include "eigenq/analysis/output_metric.hpp"
#include "eigenq/analysis/point_statistics.hpp"
#include "eigenq/analysis/scheme.hpp"
#include "eigenq/analysis/sensitivity.hpp"
