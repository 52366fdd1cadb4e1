# Opt-in fallback (EIGENQ_FETCH_EIGEN=ON): download Eigen 3.4.0 and expose it as Eigen3::Eigen.
#
# Only the headers are used: Eigen's own CMakeLists (tests, docs, BLAS/LAPACK probing) is never
# run. To use a local copy instead of the network, pass -DFETCHCONTENT_SOURCE_DIR_EIGEN=<dir>
# (the directory that holds Eigen/ and unsupported/).
include(FetchContent)

if(POLICY CMP0135)
  cmake_policy(SET CMP0135 NEW)  # extracted files get the extraction time as timestamp
endif()
if(POLICY CMP0169)
  cmake_policy(SET CMP0169 OLD)  # FetchContent_Populate() without add_subdirectory()
endif()

FetchContent_Declare(eigen
  URL      https://gitlab.com/libeigen/eigen/-/archive/3.4.0/eigen-3.4.0.tar.gz
  URL_HASH SHA256=8586084f71f9bde545ee7fa6d00288b264a2b7ac3607b974e54d13e7162c1c72)

FetchContent_GetProperties(eigen)
if(NOT eigen_POPULATED)
  message(STATUS "eigenq: EIGENQ_FETCH_EIGEN=ON and no installed Eigen found, fetching Eigen 3.4.0")
  FetchContent_Populate(eigen)
endif()

if(NOT EXISTS "${eigen_SOURCE_DIR}/Eigen/Core")
  message(FATAL_ERROR "eigenq: fetched Eigen at ${eigen_SOURCE_DIR} has no Eigen/Core")
endif()

# IMPORTED, so its headers are system headers for -Werror builds; GLOBAL, so a parent project
# that pulled eigenq in with FetchContent/add_subdirectory sees it too.
add_library(Eigen3::Eigen INTERFACE IMPORTED GLOBAL)
set_target_properties(Eigen3::Eigen PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${eigen_SOURCE_DIR}")
