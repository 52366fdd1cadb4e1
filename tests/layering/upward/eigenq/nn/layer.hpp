// A layer above core (the target of the upward include in core/bad.hpp).
#pragma once
