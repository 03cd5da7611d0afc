# OpenBLAS for dimgrad (float64 products, tiny float32 products, transposes):
# the build on OpenMP (Debian's libopenblas-openmp-dev), so its products run on
# dimgrad's OpenMP threads. The default pthread build starts a pool of its own
# when the library loads — one more thread per core, which spins, then sleeps,
# and maps a 128 MiB buffer whenever it first gets to run — a second pool beside
# OpenMP's. Both builds have the soname libopenblas.so.0 (the default one is
# what the system's link resolves), so whatever links this one needs its folder
# in its run path: DG_OPENBLAS_DIR.
set(DG_OPENBLAS_DIR /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
find_path(OPENBLAS_INCLUDE_DIR cblas.h PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
          NO_DEFAULT_PATH REQUIRED)
find_library(OPENBLAS_LIBRARY NAMES openblas PATHS ${DG_OPENBLAS_DIR} NO_DEFAULT_PATH REQUIRED)
