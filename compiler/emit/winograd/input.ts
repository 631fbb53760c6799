/**
 * The input transform V = Bᵀ·d·B of every α×α patch of a block of tiles, reading patches in place,
 * through a zero-filled copy (border patches) or from a zero-padded copy of the image.
 */
import { intlit } from "../code.js";
import { decodeTile, staging, type PaddedImage, type Tiling } from "./layout.js";
import { at, SCALAR, TRANSFORMS, transform2d, VEC, type Index, type Lanes } from "./transforms.js";

/** Copies (or zeroes) C floats from cs_ to dst_ (both usize identifiers). */
function copyChannels(C: number, zero: boolean): string[] {
  const c4 = Math.floor(C / 4) * 4, lines: string[] = [];
  if (c4 > 0) lines.push(`for (let k_ = 0; k_ < ${intlit(c4)}; k_ += 4) v128.store(dst_ + <usize>(k_ * 4), ${zero ? "f32x4.splat(0)" : "v128.load(cs_ + <usize>(k_ * 4))"});`);
  for (let k = c4; k < C; k++) lines.push(`store<f32>(dst_, ${zero ? "0" : `load<f32>(cs_, ${intlit(k * 4)})`}, ${intlit(k * 4)});`);
  return lines;
}

/**
 * For a tile whose n×n pixel patch sticks out of an h×w image: copies the patch, zeros for the
 * pixels outside, into the buffer `patch` (pixel stride px bytes) and points src_/rs_ at it. The
 * patch's top-left pixel is (y0, x0) of image img_ in `image` (either may be negative).
 */
export function copyBorderPatch(p: { n: number; image: string; h: number; w: number; y0: string; x0: string; patch: string; px: number; channels: number }): string[] {
  const { n, h, w, px } = p;
  return [
    `for (let i_ = 0; i_ < ${intlit(n)}; i_++) for (let j_ = 0; j_ < ${intlit(n)}; j_++) {`,
    `  const iy_ = ${p.y0} + i_, ix_ = ${p.x0} + j_;`,
    `  const dst_ = ${p.patch} + <usize>((i_ * ${intlit(n)} + j_) * ${intlit(px)});`,
    `  if (<u32>iy_ < ${intlit(h)} && <u32>ix_ < ${intlit(w)}) {`,
    `    const cs_ = ${p.image} + <usize>(((img_ * ${intlit(h)} + iy_) * ${intlit(w)} + ix_) * ${intlit(px)});`,
    ...copyChannels(p.channels, false).map((l) => "    " + l),
    `  } else {`,
    ...copyChannels(p.channels, true).map((l) => "    " + l),
    `  }`,
    `}`,
    `src_ = ${p.patch};`,
    `rs_ = ${intlit(n * px)};`,
  ];
}

/**
 * src_/rs_ of tile (img_, ty_, tx_) in the padded copy at pp_, after copying image img_ there
 * unless it is already (pimg_: the image held, −1 before the first; the rim was zeroed once).
 */
function paddedSource(o: Tiling, p: PaddedImage): string[] {
  const { s, m } = o, px = s.c * 4;
  return [
    `  if (img_ != pimg_) {`,
    `    pimg_ = img_;`,
    `    for (let y_ = 0; y_ < ${intlit(p.rows)}; y_++) {`,
    `      const cs_ = x + <usize>((img_ * ${intlit(s.h)} + y_) * ${intlit(s.w * px)});`,
    `      const dst_ = pp_ + <usize>((y_ + ${intlit(s.padTop)}) * ${intlit(p.wp * px)} + ${intlit(s.padLeft * px)});`,
    ...copyChannels(p.cols * s.c, false).map((l) => "      " + l),
    `    }`,
    `  }`,
    `  const src_: usize = pp_ + <usize>((ty_ * ${intlit(m * p.wp)} + tx_ * ${intlit(m)}) * ${intlit(px)});`,
    `  const rs_: usize = ${intlit(p.wp * px)};`,
  ];
}

/**
 * V for tiles [t0_, t0_+tb_) into v_ (per ξ plane, rows of KCP channels per tile): patches wholly
 * inside the image are read in place (row stride W·C); border patches are first copied with zeros
 * into an α×α×C patch buffer at pp_ (row stride α·C) — or, with `padded`, every patch is read in
 * place from the image's zero-padded copy at pp_.
 */
export function inputTransform(o: Tiling): string {
  const { s, m, alpha } = o, C = s.c, c4 = Math.floor(C / 4) * 4, px = C * 4, vPlane = o.vPlane;
  const inside = s.h >= alpha && s.w >= alpha
    ? `<u32>iy0_ <= ${intlit(s.h - alpha)} && <u32>ix0_ <= ${intlit(s.w - alpha)}` : "false";
  const rows = Array.from({ length: alpha }, (_, i) => i);
  const group = (L: Lanes, ci: string) => {
    const lines = rows.map((i) => `const s${i}_ = src_ + rs_ * ${intlit(i)} + <usize>(${ci} * 4);`);
    lines.push(`const vd_ = vt_ + <usize>(${ci} * 4);`);
    const d = (i: number, j: Index) => L.load(...at(`s${i}_`, 0, j, px));
    lines.push(...transform2d(TRANSFORMS[m].BT, alpha, d, L, "e", (k, l, e) => [L.store(...at("vd_", l * vPlane, k, alpha * vPlane), e)], staging(o, false)));
    return lines;
  };
  const head = [
    `for (let t_ = 0; t_ < tb_; t_++) {`,
    `  const g_ = t0_ + t_;`,
    ...decodeTile(o).map((l) => "  " + l),
  ];
  const tail = [`  const vt_ = v_ + <usize>(t_ * ${intlit(o.kcp * 4)});`];
  const lines = o.padded ? [...head, ...paddedSource(o, o.padded), ...tail] : [...head,
    `  const iy0_ = ty_ * ${intlit(m)} - ${intlit(s.padTop)};`,
    `  const ix0_ = tx_ * ${intlit(m)} - ${intlit(s.padLeft)};`,
    `  let src_: usize = x + <usize>(((img_ * ${intlit(s.h)} + iy0_) * ${intlit(s.w)} + ix0_) * ${intlit(px)});`,
    `  let rs_: usize = ${intlit(s.w * px)};`,
    `  if (!(${inside})) {`,
    ...copyBorderPatch({ n: alpha, image: "x", h: s.h, w: s.w, y0: "iy0_", x0: "ix0_", patch: "pp_", px, channels: C }).map((l) => "    " + l),
    `  }`,
    ...tail,
  ];
  if (c4 > 0) lines.push(`  for (let ci_ = 0; ci_ < ${intlit(c4)}; ci_ += 4) {`, ...group(VEC, "ci_").map((l) => "    " + l), `  }`);
  for (let ci = c4; ci < C; ci++) lines.push(`  {`, ...group(SCALAR, intlit(ci)).map((l) => "    " + l), `  }`);
  lines.push(`}`);
  return lines.join("\n");
}
