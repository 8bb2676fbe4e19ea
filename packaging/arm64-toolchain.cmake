# Cross build for arm64 (aarch64) Linux on a Debian 12 x86_64 machine, for
# the static release binary only (scripts/release --arch arm64): Debian's
# cross compiler (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross: glibc's
# libc.a) and the arm64 -dev packages' static libraries and headers,
# unpacked (dpkg -x, not installed) under $DDBMIG_SYSROOT.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
if(NOT DEFINED ENV{DDBMIG_SYSROOT})
  message(FATAL_ERROR "DDBMIG_SYSROOT: the folder the arm64 -dev packages are unpacked in (scripts/release makes it)")
endif()
set(sysroot $ENV{DDBMIG_SYSROOT})
set(CMAKE_FIND_ROOT_PATH ${sysroot} /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# OpenSSL's configuration header is in the multiarch folder, which the
# cross compiler does not search by itself.
set(CMAKE_C_FLAGS_INIT "-isystem ${sysroot}/usr/include/aarch64-linux-gnu -isystem ${sysroot}/usr/include")
set(ENV{PKG_CONFIG_LIBDIR} ${sysroot}/usr/lib/aarch64-linux-gnu/pkgconfig:${sysroot}/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${sysroot})
