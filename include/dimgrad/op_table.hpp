// dimgrad — the one list of differentiable ops.
//
// Every backward Node names its op from this table; tests loop over it (each op
// is gradchecked) and explain reads each op's formulas from it. A formula uses
// A, B, C for the inputs, Y for the output and dA, dB, dC, dY for gradients;
// Xᵀ means X with its last two dimensions swapped, Σ marks a broadcast sum.
//
//  X(Enum, "name", arity, "forward formula", "gradient formulas, one per input, separated by ;")
#pragma once

#include <cstddef>
#include <cstdint>

#define DG_OP_TABLE(X)                                                                                   \
  /* arithmetic.cpp: broadcasting binary ops and scalar forms */                                         \
  X(Add, "add", 2, "Y = A + B", "dA = dY; dB = dY")                                                      \
  X(Sub, "sub", 2, "Y = A - B", "dA = dY; dB = -dY")                                                     \
  X(Mul, "mul", 2, "Y = A ⊙ B", "dA = dY ⊙ B; dB = dY ⊙ A")                                             \
  X(Div, "div", 2, "Y = A / B", "dA = dY / B; dB = -dY ⊙ A / B²")                                        \
  X(AddScalar, "add_scalar", 1, "Y = A + s", "dA = dY")                                                  \
  X(MulScalar, "mul_scalar", 1, "Y = s·A", "dA = s·dY")                                                  \
  X(RDivScalar, "rdiv_scalar", 1, "Y = s / A", "dA = -s·dY / A²")                                        \
  X(Neg, "neg", 1, "Y = -A", "dA = -dY")                                                                 \
  X(Pow, "pow", 1, "Y = A^p", "dA = p·A^(p-1) ⊙ dY")                                                     \
  X(Maximum, "maximum", 2, "Y = max(A, B)", "dA = dY ⊙ [A > B] (ties split); dB = dY ⊙ [B > A] (ties split)") \
  X(Minimum, "minimum", 2, "Y = min(A, B)", "dA = dY ⊙ [A < B] (ties split); dB = dY ⊙ [B < A] (ties split)") \
  X(Where, "where", 2, "Y = cond ? A : B", "dA = dY ⊙ cond; dB = dY ⊙ ¬cond")                             \
  /* unary.cpp: elementwise functions */                                                                 \
  X(Exp, "exp", 1, "Y = exp(A)", "dA = dY ⊙ Y")                                                          \
  X(Log, "log", 1, "Y = log(A)", "dA = dY / A")                                                          \
  X(Sqrt, "sqrt", 1, "Y = √A", "dA = dY / (2·Y)")                                                        \
  X(Abs, "abs", 1, "Y = |A|", "dA = dY ⊙ sign(A)")                                                       \
  X(Tanh, "tanh", 1, "Y = tanh(A)", "dA = dY ⊙ (1 - Y²)")                                                \
  X(Sigmoid, "sigmoid", 1, "Y = σ(A)", "dA = dY ⊙ Y ⊙ (1 - Y)")                                          \
  X(Relu, "relu", 1, "Y = max(A, 0)", "dA = dY ⊙ [A > 0]")                                               \
  X(Clamp, "clamp", 1, "Y = clamp(A, lo, hi)", "dA = dY ⊙ [lo ≤ A ≤ hi]")                                \
  /* reduce.cpp */                                                                                       \
  X(Sum, "sum", 1, "Y = Σ A", "dA = dY broadcast back over the summed dims")                             \
  X(Mean, "mean", 1, "Y = Σ A / n", "dA = dY / n broadcast back over the reduced dims")                  \
  X(Var, "var", 1, "Y = Σ (A - mean)² / (n - 1)", "dA = 2·(A - mean) ⊙ dY / (n - 1)")                    \
  X(MaxAll, "max", 1, "Y = max A", "dA = dY at the maximum (split between ties)")                        \
  X(MinAll, "min", 1, "Y = min A", "dA = dY at the minimum (split between ties)")                        \
  X(MaxDim, "max_dim", 1, "Y, I = max(A, dim)", "dA = dY scattered to the argmax positions I")           \
  X(MinDim, "min_dim", 1, "Y, I = min(A, dim)", "dA = dY scattered to the argmin positions I")           \
  X(Amax, "amax", 1, "Y = max of A over dims", "dA = dY ⊙ [A = Y] / #ties (Y, dY broadcast back over dims)") \
  X(Amin, "amin", 1, "Y = min of A over dims", "dA = dY ⊙ [A = Y] / #ties (Y, dY broadcast back over dims)") \
  X(LogSumExp, "logsumexp", 1, "Y = log Σ exp(A) over dims", "dA = dY ⊙ exp(A - Y), a softmax over dims")   \
  X(Prod, "prod", 1, "Y = Π A over dim", "dA = dY ⊙ Π of the other elements (prefix · suffix products)")     \
  X(Norm, "norm", 1, "Y = (Σ |A|^p)^(1/p) over dims (p = ∞: max |A|)",                                    \
    "dA = dY ⊙ sign(A) ⊙ |A|^(p-1) / Y^(p-1), for p = 2 dY ⊙ A / Y")                                          \
  /* scan.cpp */                                                                                         \
  X(Cumsum, "cumsum", 1, "Y = cumsum(A) along dim (Y_i = Σ_{j ≤ i} A_j)",                               \
    "dA = cumsum of dY from the end along dim (dA_j = Σ_{i ≥ j} dY_i)")                                   \
  /* linalg.cpp */                                                                                       \
  X(Mm, "mm", 2, "Y = A · B", "dA = dY · Bᵀ; dB = Aᵀ · dY")                                              \
  X(Bmm, "bmm", 2, "Y = A · B (per batch)", "dA = dY · Bᵀ; dB = Aᵀ · dY")                                \
  /* shape.cpp: views and copies that only move elements */                                              \
  X(Reshape, "reshape", 1, "Y = reshape(A)", "dA = reshape(dY) back to A's shape")                       \
  X(Permute, "permute", 1, "Y = permute(A)", "dA = inverse permute of dY")                               \
  X(Expand, "expand", 1, "Y = expand(A)", "dA = Σ dY over the expanded dims")                            \
  X(Narrow, "narrow", 1, "Y = A[slice]", "dA = zeros with dY in the slice")                              \
  X(Select, "select", 1, "Y = A[i]", "dA = zeros with dY at index i")                                    \
  X(Contiguous, "contiguous", 1, "Y = copy of A", "dA = dY")                                             \
  X(ToDtype, "to", 1, "Y = A as another dtype", "dA = dY converted back")                                \
  /* index.cpp */                                                                                        \
  X(IndexSelect, "index_select", 1, "Y = A[idx]", "dA = zeros with dY added at idx (repeats sum)")       \
  X(Gather, "gather", 1, "Y = gather(A, dim, idx)", "dA = zeros with dY scatter-added at idx")           \
  X(Cat, "cat", -1, "Y = [A; B; ...]", "dA, dB, ... = the slices of dY")                                 \
  X(Stack, "stack", -1, "Y = stack(A, B, ...)", "dA, dB, ... = dY[0], dY[1], ...")                       \
  /* softmax.cpp */                                                                                      \
  X(Softmax, "softmax", 1, "Y = exp(A) / Σ exp(A)", "dA = Y ⊙ (dY - Σ(dY ⊙ Y))")                          \
  X(LogSoftmax, "log_softmax", 1, "Y = A - log Σ exp(A)", "dA = dY - softmax(A) ⊙ Σ dY")                 \
  /* nn fused ops (ops/linear, activation, batch_norm, norm, embedding, loss, loss_binary.cpp); Â: normalized */ \
  X(Linear, "linear", 3, "Y = A · Bᵀ + C", "dA = dY · B; dB = dYᵀ · A; dC = Σ_N dY")                      \
  X(LinearRelu, "linear_relu", 3, "Y = max(A · Bᵀ + C, 0)",                                            \
    "dA = (dY ⊙ [Y > 0]) · B; dB = (dY ⊙ [Y > 0])ᵀ · A; dC = Σ_N dY ⊙ [Y > 0]")                            \
  X(LeakyRelu, "leaky_relu", 1, "Y = A > 0 ? A : s·A", "dA = dY ⊙ (A > 0 ? 1 : s)")                     \
  X(Elu, "elu", 1, "Y = A > 0 ? A : α·(exp(A) - 1)", "dA = dY ⊙ (A > 0 ? 1 : Y + α)")                     \
  X(Gelu, "gelu", 1, "Y = A·Φ(A)", "dA = dY ⊙ (Φ(A) + A·φ(A))")                                         \
  X(Softplus, "softplus", 1, "Y = log(1 + exp(β·A)) / β", "dA = dY ⊙ σ(β·A)")                             \
  X(Silu, "silu", 1, "Y = A ⊙ σ(A)", "dA = dY ⊙ σ(A)·(1 + A·(1 - σ(A)))")                                 \
  X(BatchNorm, "batch_norm", 3, "Y = Â ⊙ B + C, Â = (A - μ_c)·rstd_c over (N, spatial)",                  \
    "dA = B·rstd/M ⊙ (M·dY - Σ dY - Â ⊙ Σ(dY ⊙ Â)); dB = Σ dY ⊙ Â; dC = Σ dY")                            \
  X(BatchNormRelu, "batch_norm_relu", 3, "Y = max(Â ⊙ B + C, 0), Â = (A - μ_c)·rstd_c over (N, spatial)",   \
    "dA = B·rstd/M ⊙ (M·G - Σ G - Â ⊙ Σ(G ⊙ Â)), G = dY ⊙ [Y > 0]; dB = Σ (dY ⊙ [Y > 0]) ⊙ Â; "           \
    "dC = Σ dY ⊙ [Y > 0]")                                                                                \
  X(LayerNorm, "layer_norm", 3, "Y = Â ⊙ B + C, Â = (A - μ_row)·rstd_row over the last dims",             \
    "dA = rstd/K ⊙ (K·G - Σ G - Â ⊙ Σ(G ⊙ Â)), G = dY ⊙ B; dB = Σ_rows dY ⊙ Â; dC = Σ_rows dY")            \
  X(GroupNorm, "group_norm", 3, "Y = Â ⊙ B + C, Â = (A - μ_ng)·rstd_ng over each group",                  \
    "dA = rstd/K ⊙ (K·G - Σ G - Â ⊙ Σ(G ⊙ Â)), G = dY ⊙ B; dB = Σ dY ⊙ Â; dC = Σ dY")                      \
  X(Embedding, "embedding", 1, "Y = A[idx] (rows)", "dA = zeros with dY rows added at idx (padding_idx gets none)") \
  X(CrossEntropy, "cross_entropy", 1, "Y = -Σ Q ⊙ log softmax(A)", "dA = (P·Σ_c Q - Q) ⊙ dY, P = softmax(A), Q = weighted one-hot targets (mean: divided by Σ weights, (P - Q)/N)") \
  X(NllLoss, "nll_loss", 1, "Y = -Σ_i w_i·A[i, t_i]", "dA = -w_i·dY at [i, t_i], 0 elsewhere")             \
  X(MultiMargin, "multi_margin_loss", 1, "Y = Σ_{j≠t} w_t·max(0, m - A_t + A_j)^p / C",                  \
    "dA = dY ⊙ w_t·p·h^(p-1)/C at each wrong class j with hinge h > 0, minus their sum at the true class t")                          \
  X(BinaryCrossEntropy, "binary_cross_entropy", 2, "Y = -w·(B·log A + (1 - B)·log(1 - A))",              \
    "dA = w·(A - B) / (A·(1 - A)) ⊙ dY; dB = w·(log(1 - A) - log A) ⊙ dY")                                  \
  X(BCEWithLogits, "binary_cross_entropy_with_logits", 2, "Y = w·((1 - B)·A + (1 + (p - 1)·B)·softplus(-A))", \
    "dA = w·(σ(A)·(1 + (p - 1)·B) - p·B) ⊙ dY; dB = w·((p - 1)·softplus(-A) - A) ⊙ dY")                    \
  /* loss_regression.cpp: s·h(A - B) with the reduction inside the op (sum, mean ÷ N, or none) */          \
  X(MseLoss, "mse_loss", 2, "Y = reduce((A - B)²)", "dA = 2(A - B) ⊙ dY (÷ N for mean); dB = -dA")           \
  X(L1Loss, "l1_loss", 2, "Y = reduce(|A - B|)", "dA = sign(A - B) ⊙ dY (÷ N for mean); dB = -dA")           \
  X(HuberLoss, "huber_loss", 2, "Y = reduce(|A - B| < δ ? ½(A - B)² : δ·(|A - B| - ½δ))",                 \
    "dA = clamp(A - B, -δ, δ) ⊙ dY (÷ N for mean); dB = -dA")                                               \
  X(SmoothL1Loss, "smooth_l1_loss", 2, "Y = reduce(|A - B| < β ? ½(A - B)²/β : |A - B| - ½β)",              \
    "dA = clamp((A - B)/β, -1, 1) ⊙ dY (÷ N for mean); dB = -dA")                                           \
  /* conv.cpp, pool.cpp: convolution and pooling over [N, C, H, W]; cols = im2col(A) */                  \
  X(Conv2d, "conv2d", 3, "Y = B · cols(A) + C (per image and group)",                                     \
    "dA = col2im(Bᵀ · dY); dB = Σ_N dY · colsᵀ; dC = Σ_{N,H,W} dY")                                        \
  X(MaxPool2d, "max_pool2d", 1, "Y = max of A over each window (argmax I kept)",                          \
    "dA = dY added at each window's argmax I")                                                             \
  X(Conv2dMaxPool2d, "conv2d_max_pool2d", 3,                                                             \
    "Y = max of conv(A) over each window (argmax I kept), conv(A) = B · cols(A) + C",                       \
    "dA = col2im(Bᵀ · dconv), dconv = dY added at each window's argmax I; "                                \
    "dB = Σ_N dconv · colsᵀ, dconv = dY added at each window's argmax I; "                                  \
    "dC = Σ_{N,H,W} dconv, dconv = dY added at each window's argmax I")                                    \
  X(AvgPool2d, "avg_pool2d", 1, "Y = Σ A over each window / window size",                                 \
    "dA = dY / window size spread over each window")                                                       \
  X(AdaptiveAvgPool2d, "adaptive_avg_pool2d", 1, "Y = mean of A over each adaptive window",              \
    "dA = dY / window size spread over each window")                                                       \
  /* rnn.cpp: a sequence into its steps; the pointwise part of an LSTM step (A = gates i,f,g,o; B = c) */ \
  X(Unbind, "unbind", 1, "Y_t = A[t] for every t", "dA = stack(dY_0, dY_1, ...) (zeros where no gradient)") \
  X(LstmCell, "lstm_cell", 2, "c' = σ(A_f)⊙B + σ(A_i)⊙tanh(A_g); h' = σ(A_o)⊙tanh(c')",                     \
    "dA_(i,f,g,o) = (dc'_all⊙g⊙i(1-i), dc'_all⊙B⊙f(1-f), dc'_all⊙i⊙(1-g²), dh'⊙tanh(c')⊙o(1-o)) "         \
    "with dc'_all = dc' + dh'⊙o⊙(1-tanh²c'); dB = dc'_all⊙f")                                             \
  /* autograd/function.cpp: user-defined ops */                                                          \
  X(Custom, "custom", -1, "Y = f(A, ...)", "dA = user backward")

namespace dg {

enum class OpKind : uint16_t {
#define DG_OP_ENUM(e, name, arity, fwd, bwd) e,
  DG_OP_TABLE(DG_OP_ENUM)
#undef DG_OP_ENUM
      AccumulateGrad,
  Other,  // a Node outside the table (extensions register their own name)
};

struct OpInfo {
  OpKind kind;
  const char* name;
  int arity;  // -1: variadic
  const char* forward_formula;
  const char* gradient_formulas;
};

// Every op of the table, in order.
const OpInfo* op_table_begin();
const OpInfo* op_table_end();
const OpInfo& op_info(OpKind k);
size_t op_table_size();

}  // namespace dg
