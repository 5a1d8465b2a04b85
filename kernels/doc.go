// Package kernels holds the numeric kernels of the BTLM engine: matrix-vector and
// matrix-matrix products over fp32, bf16 and 8-bit block-quantized (q8) weights, the
// helpers that attention over a KV cache needs, and a persistent worker pool that
// splits each product over output rows.
//
// The package knows nothing about the model. Every matrix is row-major [Rows][Cols]
// and every product computes y[r] = Σ_c W[r][c]·x[c] (the model transposes Conv1D
// weights, stored [in][out], into this layout at load time).
//
// Each kernel has a pure-Go reference implementation. On amd64 the package selects,
// once at start-up, Go-assembly versions using AVX2+FMA or AVX-512 (with VNNI for the
// int8 dot products) according to golang.org/x/sys/cpu. Setting the environment
// variable BTLM_NOSIMD=1 forces the pure-Go path. The tests compare every assembly
// kernel with its reference on random data and on awkward sizes.
//
// The q8 format follows the idea of ggml's Q8_0 (blocks of 32 weights along a row,
// one scale per block, w ≈ d·q with q in −127…127) with a structure-of-arrays layout:
// see Matrix.
package kernels
