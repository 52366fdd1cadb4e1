# Cross-compiling for 64-bit Arm Linux with Debian's g++-aarch64-linux-gnu; programs run under
# qemu-user (qemu-aarch64, whose default CPU "max" has Advanced SIMD and the dot product).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(EIGENQ_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH "${EIGENQ_AARCH64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# try_run and ctest go through qemu.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -cpu max -L "${EIGENQ_AARCH64_SYSROOT}")
