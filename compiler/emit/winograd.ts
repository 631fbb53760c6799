/**
 * Emitter: 3×3 stride-1 convolution forward by Winograd F(m×m, 3×3), m ∈ {2, 4} (Lavin & Gray
 * 2016). An m×m output tile costs α² = (m+2)² products per (channel, filter) instead of 9·m²:
 * 16 per 2×2 tile (2.25× fewer than direct) or 36 per 4×4 tile (4× fewer), so for convs with
 * enough channels and filters this beats the im2col GEMM of conv.ts, which already runs near the
 * wasm-SIMD FLOP ceiling (the only way left to go faster is fewer multiplications). F(4×4) pays
 * for its smaller GEMMs with dearer transforms (6×6 patches, coefficients 4, 5, ⅙, 1/24…) and
 * rounding ~10× larger (still ~1e-6 relative here).
 *
 *   U_ξ = (G·g·Gᵀ)_ξ            filters → α² matrices [C × F], every call (weights change in training)
 *   V_ξ = (Bᵀ·d·B)_ξ            per α×α input patch d (stride m, zeros outside the image)
 *   M_ξ[tiles × F] = V_ξ·U_ξ    α² small GEMMs per block of tiles (the register-blocked micro-kernel)
 *   y = act(Aᵀ·M·A + bias)      m×m outputs per tile; partial tiles store only in-range outputs
 *
 * Tiles are numbered over the whole batch (tile → image, ty, tx) and processed in blocks of
 * winogradTiles(m) so a block's V and M stay in L2. Transforms are vectorized over channels /
 * filters (f32x4, scalar for the remainder). Same params and Conv2dSpec as emitConv2d.
 *
 * The parts live in winograd/: transforms (the matrices and their application), layout (tile
 * geometry, scratch layout, block sizes), input (the input transform), forward, grad-input and
 * grad-filter; the selection rules (when Winograd pays, which tile size) in select/rules.ts.
 */
export {
  gradInputAsConv, productRatio, winogradApplies, winogradGradFilterPays, winogradGradFilterTile, winogradGradInputApplies, winogradGradInputPays,
  winogradGradInputTile, winogradPays, winogradTile, type WinogradTile,
} from "../select/rules.js";
export { WINOGRAD_GRAD_INPUT_LOCALS, WINOGRAD_LOCALS, WINOGRAD_TILES, WINOGRAD4_TILES, winogradTiles } from "./winograd/layout.js";
export { emitConv2dWinograd } from "./winograd/forward.js";
export { emitConv2dGradInputWinograd } from "./winograd/grad-input.js";
export { emitConv2dGradFilterWinograd, WINOGRAD_GF_TILES, WINOGRAD4_GF_TILES } from "./winograd/grad-filter.js";
