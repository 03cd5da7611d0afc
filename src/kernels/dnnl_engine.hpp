// The one oneDNN CPU engine dimgrad makes its primitives on (convolutions in
// conv_dnnl.cpp, products in matmul_dnnl.cpp), and the calling thread's stream
// on it (a stream is used by one thread at a time).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace dg::kernels {

dnnl::engine& dnnl_cpu_engine();
dnnl::stream& dnnl_cpu_stream();

}  // namespace dg::kernels
