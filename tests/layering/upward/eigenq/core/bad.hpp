// A core header that includes a layer above it: check_layers.cmake must reject this tree.
#pragma once
#include "eigenq/nn/layer.hpp"
