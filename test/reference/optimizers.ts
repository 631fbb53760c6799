/**
 * Reference optimizers (spec §4, Keras 3 rules) in float64 over named weights: sgd (momentum,
 * nesterov), adam, adamw, rmsprop (momentum); clipnorm / global_clipnorm. Per step the order
 * is clip → weight decay → update, and t counts from 1.
 */

export interface OptimizerConfig {
  type: "sgd" | "adam" | "adamw" | "rmsprop";
  learning_rate?: number;
  momentum?: number;
  nesterov?: boolean;
  beta_1?: number;
  beta_2?: number;
  epsilon?: number;
  weight_decay?: number;
  rho?: number;
  clipnorm?: number;
  global_clipnorm?: number;
}

export interface OptimizerState {
  step: number;
  /** Keras slot names: `momentum` (sgd/rmsprop m, adam m) and `velocity` (adam v, rmsprop v). */
  momentum: Record<string, Float64Array>;
  velocity: Record<string, Float64Array>;
}

export function newOptimizerState(): OptimizerState {
  return { step: 0, momentum: {}, velocity: {} };
}

const norm = (g: ArrayLike<number>) => Math.sqrt(Array.from(g).reduce((s, v) => s + v * v, 0));

/** Applies clipnorm / global_clipnorm; returns new arrays. */
export function clipGradients(cfg: OptimizerConfig, grads: Record<string, ArrayLike<number>>): Record<string, Float64Array> {
  if (cfg.clipnorm !== undefined && cfg.global_clipnorm !== undefined) throw new Error("clipnorm and global_clipnorm are exclusive");
  const out: Record<string, Float64Array> = {};
  let globalScale = 1;
  if (cfg.global_clipnorm !== undefined) {
    const total = Math.sqrt(Object.values(grads).reduce((s, g) => s + norm(g) ** 2, 0));
    globalScale = cfg.global_clipnorm / Math.max(total, cfg.global_clipnorm);
  }
  for (const [name, g] of Object.entries(grads)) {
    const c = cfg.clipnorm;
    const scale = c !== undefined ? c / Math.max(norm(g), c) : globalScale;
    out[name] = Float64Array.from(g, (v) => v * scale);
  }
  return out;
}

/** One optimizer step, updating `weights` (float64 copies) and `state` in place. */
export function optimizerStep(
  cfg: OptimizerConfig,
  weights: Record<string, Float64Array>,
  grads: Record<string, ArrayLike<number>>,
  state: OptimizerState,
): void {
  const clipped = clipGradients(cfg, grads);
  state.step += 1;
  for (const [name, g] of Object.entries(clipped)) {
    const w = weights[name];
    if (!w) throw new Error(`gradient for unknown weight "${name}"`);
    if (w.length !== g.length) throw new Error(`weight "${name}" has ${w.length} values, its gradient ${g.length}`);
    const slot = (s: Record<string, Float64Array>) => (s[name] ??= new Float64Array(w.length));
    UPDATES[cfg.type](cfg, w, g, slot(state.momentum), slot(state.velocity), state.step);
  }
}

type Update = (cfg: OptimizerConfig, w: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, t: number) => void;

const sgd: Update = (cfg, w, g, m) => {
  const lr = cfg.learning_rate ?? 0.01;
  const mu = cfg.momentum ?? 0;
  for (let i = 0; i < w.length; i++) {
    if (mu === 0) {
      w[i] -= lr * g[i];
      continue;
    }
    m[i] = mu * m[i] - lr * g[i];
    w[i] += cfg.nesterov ? mu * m[i] - lr * g[i] : m[i];
  }
};

const adam: Update = (cfg, w, g, m, v, t) => {
  const lr = cfg.learning_rate ?? 0.001;
  const b1 = cfg.beta_1 ?? 0.9;
  const b2 = cfg.beta_2 ?? 0.999;
  const eps = cfg.epsilon ?? 1e-7;
  const alpha = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
  for (let i = 0; i < w.length; i++) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    w[i] -= (alpha * m[i]) / (Math.sqrt(v[i]) + eps);
  }
};

const adamw: Update = (cfg, w, g, m, v, t) => {
  const lr = cfg.learning_rate ?? 0.001;
  const wd = cfg.weight_decay ?? 0.004;
  for (let i = 0; i < w.length; i++) w[i] -= lr * wd * w[i];
  adam(cfg, w, g, m, v, t);
};

const rmsprop: Update = (cfg, w, g, m, v) => {
  const lr = cfg.learning_rate ?? 0.001;
  const rho = cfg.rho ?? 0.9;
  const mu = cfg.momentum ?? 0;
  const eps = cfg.epsilon ?? 1e-7;
  for (let i = 0; i < w.length; i++) {
    v[i] = rho * v[i] + (1 - rho) * g[i] * g[i];
    const step = (lr * g[i]) / Math.sqrt(v[i] + eps);
    if (mu === 0) {
      w[i] -= step;
    } else {
      m[i] = mu * m[i] + step;
      w[i] -= m[i];
    }
  }
};

const UPDATES: Record<OptimizerConfig["type"], Update> = { sgd, adam, adamw, rmsprop };
