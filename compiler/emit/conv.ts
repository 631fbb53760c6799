/**
 * Emitters: 2-D convolution (NHWC, filters [kh,kw,c,f]) forward, input gradient and filter
 * gradient. The general kernels are the blocked GEMM of gemm-core.ts over small im2col tiles built
 * in scratch: forward y = im2col(x)·W (conv/im2col.ts), grad-filter dW = im2col(x)ᵀ·dy
 * (conv/grad-filter.ts), grad-input dcol = dy·Wᵀ then col2im (conv/grad-input.ts). For few input
 * channels, direct kernels (conv/direct.ts, conv/direct-grad-filter.ts); for 3×3 stride 1,
 * Winograd (winograd.ts). Padding is explicit (padTop/padLeft; bottom/right implied by oh/ow)
 * and reads as zeros. Which kernel runs is decided by the rules in select/rules.ts.
 */
export { DIRECT_MAX_TAPS, directConvApplies } from "../select/rules.js";
export { checkConv2dSpec, CONV_LOCALS, type Conv2dSpec } from "./conv/spec.js";
export { conv2dPackedBBytes, conv2dPrepackable, emitConv2d, emitConv2dPackB } from "./conv/im2col.js";
export { emitConv2dGradInput } from "./conv/grad-input.js";
export { emitConv2dGradFilter } from "./conv/grad-filter.js";
export { directBlocking, emitConv2dDirect, type DirectConvSpec, type FusedPool } from "./conv/direct.js";
export { emitConv2dGradFilterDirect } from "./conv/direct-grad-filter.js";
