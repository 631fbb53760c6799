/**
 * Emitter: one step of causal self-attention against a key/value cache (the `decode` program,
 * spec §7 "Generation"). Per example b, at its position p = pos[b] (i32):
 *   kc[b, p, :] = k[b, :], vc[b, p, :] = v[b, :]          (append this token's keys and values)
 *   per head h: s_j = alpha·q[b, h]·kc[b, j, h] for j ≤ p  (the causal mask is the position)
 *               o[b, h] = Σ_j softmax(s)_j · vc[b, j, h]
 * Caches are [batch, context, heads·dim] f32, row-major. A position outside [0, context) writes
 * nothing to the caches and a zero output row (the runtime refuses such positions before a call).
 * The scores of one head live in scratch (context floats); the row maximum is subtracted before exp.
 */
import { block, f32lit, intlit, kernelParams, locals, sizeSrc, type SizeArg } from "./code.js";
import type { KernelDef } from "./kernel.js";

export const CACHED_ATTENTION_LOCALS = locals("emitCachedAttention", "prefixed");

export interface CachedAttentionSpec {
  /** Examples in the call (a runtime size). */
  rows: SizeArg;
  heads: number;
  /** Size of each head for queries and keys, and for values. */
  dk: number;
  dv: number;
  /** Positions the caches hold. */
  context: number;
  /** The scores' scale, 1/√dk. */
  alpha: number;
}

function check(s: CachedAttentionSpec): void {
  for (const [name, v] of [["heads", s.heads], ["dk", s.dk], ["dv", s.dv], ["context", s.context]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`internal: emitCachedAttention: ${name} must be a positive integer, got ${v}`);
  }
}

/** `dst[d] (op)= expr` over d < n, with `_d` the index. */
const loopD = (n: number, body: string) => block(`for (let _d: i32 = 0; _d < ${intlit(n)}; _d++) {`, [body]);

export function emitCachedAttention(spec: CachedAttentionSpec): KernelDef {
  check(spec);
  const { heads: H, dk, dv, context: T } = spec;
  const kRow = H * dk * 4, vRow = H * dv * 4;
  const head = [
    `const _qh: usize = _q + <usize>(_h * ${intlit(dk * 4)});`,
    `let _max: f32 = -Infinity;`,
    block(`for (let _j: i32 = 0; _j <= _p; _j++) {`, [
      `const _kh: usize = _kc + <usize>_j * ${intlit(kRow)} + <usize>(_h * ${intlit(dk * 4)});`,
      `let _s: f32 = 0;`,
      loopD(dk, `_s += load<f32>(_qh + (<usize>_d << 2)) * load<f32>(_kh + (<usize>_d << 2));`),
      `_s *= ${f32lit(spec.alpha)};`,
      `store<f32>(scratch + (<usize>_j << 2), _s);`,
      `if (_s > _max) _max = _s;`,
    ]),
    `let _sum: f32 = 0;`,
    block(`for (let _j: i32 = 0; _j <= _p; _j++) {`, [
      `const _e: f32 = expf(load<f32>(scratch + (<usize>_j << 2)) - _max);`,
      `store<f32>(scratch + (<usize>_j << 2), _e);`,
      `_sum += _e;`,
    ]),
    `const _inv: f32 = (1.0 as f32) / _sum;`,
    `const _oh: usize = _o + <usize>(_h * ${intlit(dv * 4)});`,
    `memory.fill(_oh, 0, ${intlit(dv * 4)});`,
    block(`for (let _j: i32 = 0; _j <= _p; _j++) {`, [
      `const _w: f32 = load<f32>(scratch + (<usize>_j << 2)) * _inv;`,
      `const _vh: usize = _vc + <usize>_j * ${intlit(vRow)} + <usize>(_h * ${intlit(dv * 4)});`,
      loopD(dv, `store<f32>(_oh + (<usize>_d << 2), load<f32>(_oh + (<usize>_d << 2)) + _w * load<f32>(_vh + (<usize>_d << 2)));`),
    ]),
  ];
  const example = [
    `const _p: i32 = load<i32>(pos + (<usize>_b << 2));`,
    `const _o: usize = o + <usize>_b * ${intlit(vRow)};`,
    `if (<u32>_p >= <u32>${intlit(T)}) { memory.fill(_o, 0, ${intlit(vRow)}); continue; }`,
    `const _q: usize = q + <usize>_b * ${intlit(kRow)};`,
    `const _kc: usize = kc + <usize>_b * ${intlit(T * kRow)};`,
    `const _vc: usize = vc + <usize>_b * ${intlit(T * vRow)};`,
    `memory.copy(_kc + <usize>_p * ${intlit(kRow)}, k + <usize>_b * ${intlit(kRow)}, ${intlit(kRow)});`,
    `memory.copy(_vc + <usize>_p * ${intlit(vRow)}, v + <usize>_b * ${intlit(vRow)}, ${intlit(vRow)});`,
    block(`for (let _h: i32 = 0; _h < ${intlit(H)}; _h++) {`, head),
  ];
  return {
    key: `cached_attention:${JSON.stringify([spec.rows, H, dk, dv, T, Math.fround(spec.alpha)])}`,
    label: `cached attention ${H}x${dk}/${dv} over ${T}`,
    params: kernelParams(CACHED_ATTENTION_LOCALS, ["q", "k", "v", "pos", "o", "kc", "vc", "scratch"], spec.rows),
    body: block(`for (let _b: i32 = 0; _b < ${sizeSrc(CACHED_ATTENTION_LOCALS, spec.rows)}; _b++) {`, example),
    needs: ["expf"],
    scratchBytes: 4 * T,
  };
}
