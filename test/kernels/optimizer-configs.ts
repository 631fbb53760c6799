import type { ScheduleArgs } from "./schedule-ref.js";

/** The optimizer configurations the kernel test (optimizer.test.ts) runs against float64 Keras rules. */
export interface Opt {
  [attr: string]: unknown;
  type: "sgd" | "adam" | "adamw" | "rmsprop";
  /** A number, or a schedule (test/kernels/schedule-ref.ts gives its Keras rate). */
  learning_rate: number | ScheduleArgs;
  /** A settable learning rate (CompileOptions.settableLearningRate): the state word after the step overrides it when nonzero. */
  settable?: boolean;
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

/** Every optimizer of the registry with its options (test/meta/optimizers.test.ts checks each is here). */
export const CONFIGS: Record<string, Opt> = {
  sgd: { type: "sgd", learning_rate: 0.1 },
  sgd_mom: { type: "sgd", learning_rate: 0.1, momentum: 0.9 },
  sgd_nest: { type: "sgd", learning_rate: 0.1, momentum: 0.9, nesterov: true },
  sgd_mom_gclip: { type: "sgd", learning_rate: 0.1, momentum: 0.5, global_clipnorm: 2 },
  sgd_wd: { type: "sgd", learning_rate: 0.1, weight_decay: 0.05 },
  adam: { type: "adam", learning_rate: 0.05, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 },
  adam_odd: { type: "adam", learning_rate: 0.02, beta_1: 0.5, beta_2: 0.8, epsilon: 0.01 },
  adam_clip: { type: "adam", learning_rate: 0.05, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, clipnorm: 1.5 },
  adam_gclip_loose: { type: "adam", learning_rate: 0.05, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, global_clipnorm: 100 },
  adamw: { type: "adamw", learning_rate: 0.05, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, weight_decay: 0.2 },
  adamw_gclip: { type: "adamw", learning_rate: 0.05, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, weight_decay: 0.004, global_clipnorm: 1 },
  rmsprop: { type: "rmsprop", learning_rate: 0.01, rho: 0.9, momentum: 0, epsilon: 1e-7 },
  rmsprop_mom: { type: "rmsprop", learning_rate: 0.01, rho: 0.8, momentum: 0.5, epsilon: 1e-7 },
  rmsprop_clip: { type: "rmsprop", learning_rate: 0.01, rho: 0.9, momentum: 0.9, epsilon: 1e-3, clipnorm: 0.5 },
  // The learning rate computed in the module: each rule with lr read at run time.
  sgd_mom_expdecay: { type: "sgd", learning_rate: { schedule: "exponential_decay", initial_learning_rate: 0.1, decay_steps: 2, decay_rate: 0.5 }, momentum: 0.9, nesterov: true },
  adamw_cosine_warmup: {
    type: "adamw", beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, weight_decay: 0.2,
    learning_rate: { schedule: "cosine_decay", initial_learning_rate: 0.01, decay_steps: 3, alpha: 0.1, warmup_target: 0.05, warmup_steps: 1 },
  },
  rmsprop_piecewise: { type: "rmsprop", learning_rate: { schedule: "piecewise_constant", boundaries: [0, 1], values: [0.02, 0.01, 0.005] }, rho: 0.9, momentum: 0.5, epsilon: 1e-7 },
  adam_settable: { type: "adam", learning_rate: 0.05, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, settable: true },
  sgd_settable_wd: { type: "sgd", learning_rate: 0.1, momentum: 0.5, weight_decay: 0.05, settable: true },
};
