// Light entry header: quantize and dequantize Eigen tensors and matrices. The policies (Linear,
// LinearRealOffset, Log, LogSigned, Log2, Exp, Codebook), Quantizer, QTensor, quantize(),
// dequantize() and double_quantize(); no GEMM, calibration observers, analysis or nn.
//
//   #include <eigenq/quantize.hpp>
//   auto q = eigenq::quantize(W, eigenq::Linear<int8_t>::symmetric(), eigenq::PerChannel{0});
//   Eigen::MatrixXf back = eigenq::dequantize<Eigen::MatrixXf>(q);
//
// <eigenq/eigenq.hpp> includes this and the rest of the library below nn; benchmarks/
// compile_time.sh measures what each costs a translation unit.
#pragma once

#include "eigenq/version.hpp"

#include "eigenq/core/code_storage.hpp"
#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/packing.hpp"
#include "eigenq/core/rounding.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"

#include "eigenq/policy/choose_params.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/exp.hpp"
#include "eigenq/policy/kmeans_1d.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/linear_real_offset.hpp"
#include "eigenq/policy/log.hpp"
#include "eigenq/policy/policy.hpp"

#include "eigenq/quantizer/double_quant.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/quantizer/quantizer.hpp"
#include "eigenq/quantizer/ranges.hpp"
