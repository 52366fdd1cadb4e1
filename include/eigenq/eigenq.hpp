// Umbrella header: everything eigenq offers without optional dependencies.
// (The file readers/writers need nlohmann_json: include <eigenq/io.hpp>.)
#pragma once

#include "eigenq/quantize.hpp"

#include "eigenq/calibrate/histogram.hpp"
#include "eigenq/calibrate/kl_entropy.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/calibrate/moving_average.hpp"
#include "eigenq/calibrate/mse_clip.hpp"
#include "eigenq/calibrate/observer.hpp"
#include "eigenq/calibrate/percentile.hpp"

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
