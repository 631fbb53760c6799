/**
 * fit's callbacks (loaded with fit.ts, never by an app that only predicts): Keras's built-in
 * callbacks as data — `{ type: "early_stopping", ... }` and the others below, with Keras 3's
 * arguments (camelCased) and logic — and the hooks of user callbacks, called in list order.
 * A callback stops training as Keras's do, by setting `model.stopTraining = true`.
 */
import { KilnError } from "./core.js";
import type { Model } from "./model.js";
import { learningRate, setLearningRate } from "./train.js";

/** Flat Keras-style logs: `loss`, each metric by name, and `val_`-prefixed ones after validation. */
export type Logs = Record<string, number>;

/** What every hook gets besides its logs. */
export interface FitContext {
  model: Model;
  /** Keras's `params`: the epoch to stop before and the batches per epoch (undefined for a stream without stepsPerEpoch, as Keras's None). */
  params: { epochs: number; steps: number | undefined; initialEpoch: number };
  /** The learning rate of the next step; settable in modules compiled with settableLearningRate. */
  learningRate: number;
}

type Hook<A extends unknown[]> = (...args: [...A, Logs, FitContext]) => void | Promise<void>;

/** A user callback: any of Keras's hooks (camelCased). Batch indices count within the epoch from 0. */
export interface Callback {
  onTrainBegin?: Hook<[]>;
  onTrainEnd?: Hook<[]>;
  onEpochBegin?: Hook<[epoch: number]>;
  /** Logs: the epoch's means, and `val_` ones when it validated. */
  onEpochEnd?: Hook<[epoch: number]>;
  /** Logs: empty, as Keras's on_train_batch_begin. */
  onBatchBegin?: Hook<[batch: number]>;
  /** Logs: the means of the epoch so far (Keras 3's running metrics). */
  onBatchEnd?: Hook<[batch: number]>;
}

export type Mode = "auto" | "min" | "max";

export interface EarlyStoppingOptions {
  type: "early_stopping";
  monitor?: string;
  minDelta?: number;
  patience?: number;
  mode?: Mode;
  baseline?: number;
  restoreBestWeights?: boolean;
  startFromEpoch?: number;
}

export interface ModelCheckpointOptions {
  type: "model_checkpoint";
  /** Receives model.saveWeights() (weights and optimizer state) after an epoch it saves. */
  save(bytes: Uint8Array, info: { epoch: number; logs: Logs }): void | Promise<void>;
  monitor?: string;
  mode?: Mode;
  saveBestOnly?: boolean;
  initialValueThreshold?: number;
}

export interface ReduceLROnPlateauOptions {
  type: "reduce_lr_on_plateau";
  monitor?: string;
  factor?: number;
  patience?: number;
  mode?: Mode;
  minDelta?: number;
  cooldown?: number;
  minLr?: number;
}

/** Ends training at a non-finite loss (the step undone) instead of throwing; fit resolves with the History so far. */
export interface TerminateOnNaNOptions { type: "terminate_on_nan" }

/** Writes the epoch logs as text: CSV (Keras's CSVLogger: a header "epoch,<keys sorted>", a row per epoch) or JSON lines. */
export interface HistoryLoggerOptions {
  type: "csv_logger" | "json_logger";
  write(text: string): void | Promise<void>;
  separator?: string;
}

export type BuiltinCallback = EarlyStoppingOptions | ModelCheckpointOptions | ReduceLROnPlateauOptions | TerminateOnNaNOptions | HistoryLoggerOptions;

const fail = (path: string, message: string): never => {
  throw new KilnError({ code: "options", path, message });
};

/** The callbacks of fit's options, built-ins made into hooks; checked before training starts. */
export function resolveCallbacks(list: unknown, model: Model): { callbacks: Callback[]; terminateOnNaN: boolean } {
  if (list === undefined) return { callbacks: [], terminateOnNaN: false };
  if (!Array.isArray(list)) fail("callbacks", `expected a list of callbacks, got ${typeof list}`);
  let terminateOnNaN = false;
  const callbacks = (list as unknown[]).map((c, i): Callback => {
    const path = `callbacks[${i}]`;
    if (typeof c !== "object" || c === null) return fail(path, `expected a callback object, got ${c === null ? "null" : typeof c}`);
    const type = (c as { type?: unknown }).type;
    if (type === undefined) return c as Callback;
    switch (type) {
      case "early_stopping": return earlyStopping(c as EarlyStoppingOptions, path, model);
      case "model_checkpoint": return modelCheckpoint(c as ModelCheckpointOptions, path, model);
      case "reduce_lr_on_plateau": return reduceLROnPlateau(c as ReduceLROnPlateauOptions, path, model);
      case "terminate_on_nan": terminateOnNaN = true; return {};
      case "csv_logger": case "json_logger": return historyLogger(c as HistoryLoggerOptions, path);
    }
    return fail(`${path}.type`, `unknown callback type ${JSON.stringify(String(type).slice(0, 40))}; expected early_stopping, model_checkpoint, reduce_lr_on_plateau, terminate_on_nan, csv_logger or json_logger (or no type: a callback object with hooks)`);
  });
  return { callbacks, terminateOnNaN };
}

function num(o: Record<string, unknown>, key: string, path: string, dflt: number, ok: (x: number) => boolean, what: string): number {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !ok(v)) fail(`${path}.${key}`, `expected ${what}, got ${JSON.stringify(v)}`);
  return v as number;
}
const count = (o: object, key: string, path: string, dflt: number) => num(o as Record<string, unknown>, key, path, dflt, (x) => Number.isInteger(x) && x >= 0, "an integer ≥ 0");
const finite = (o: object, key: string, path: string, dflt: number) => num(o as Record<string, unknown>, key, path, dflt, Number.isFinite, "a finite number");

function monitorOf(o: { monitor?: unknown }, path: string): string {
  if (o.monitor === undefined) return "val_loss";
  if (typeof o.monitor !== "string" || !o.monitor) fail(`${path}.monitor`, `expected a log name ("val_loss", "loss", "val_accuracy", …), got ${JSON.stringify(o.monitor)}`);
  return o.monitor as string;
}

/**
 * Whether larger is better for `monitor` under `mode`. "auto", as Keras: losses and errors are
 * minimized, accuracy-like metrics (accuracy, precision, recall, auc, r2) maximized.
 */
function maximize(mode: unknown, monitor: string, path: string): boolean {
  if (mode === "min") return false;
  if (mode === "max") return true;
  if (mode !== undefined && mode !== "auto") fail(`${path}.mode`, `expected "auto", "min" or "max", got ${JSON.stringify(mode)}`);
  const name = monitor.replace(/^val_/, "");
  if (/loss|error|hinge|crossentropy/.test(name)) return false;
  if (/acc|precision|recall|auc|r2|fmeasure/.test(name)) return true;
  return fail(`${path}.monitor`, `cannot tell whether "${monitor}" should be maximized or minimized; give mode "min" or "max"`);
}

/** The monitored value of `logs`, or undefined (Keras warns and skips the epoch). */
const valueOf = (logs: Logs, monitor: string): number | undefined => (Object.hasOwn(logs, monitor) ? logs[monitor] : undefined);

/** Keras 3 EarlyStopping. */
function earlyStopping(o: EarlyStoppingOptions, path: string, model: Model): Callback {
  const monitor = monitorOf(o, path), up = maximize(o.mode, monitor, path);
  const patience = count(o, "patience", path, 0), startFromEpoch = count(o, "startFromEpoch", path, 0);
  // Keras: min_delta = |min_delta|, negated for "min"; an improvement is op(current − min_delta, reference).
  const delta = Math.abs(finite(o, "minDelta", path, 0)) * (up ? 1 : -1);
  const baseline = o.baseline === undefined ? undefined : finite(o, "baseline", path, 0);
  const restore = o.restoreBestWeights === true;
  const better = (current: number, reference: number | undefined) => reference === undefined || (up ? current - delta > reference : current - delta < reference);
  let wait = 0, best: number | undefined, bestWeights: Record<string, Float32Array> | undefined;
  return {
    onTrainBegin() {
      wait = 0;
      best = undefined;
      bestWeights = undefined;
    },
    onEpochEnd(epoch, logs) {
      const current = valueOf(logs, monitor);
      if (current === undefined || epoch < startFromEpoch) return;
      if (restore && bestWeights === undefined) bestWeights = model.getWeights();
      wait++;
      if (better(current, best)) {
        best = current;
        if (restore) bestWeights = model.getWeights();
        // Restart the wait only when both the baseline and the previous best are beaten.
        if (baseline === undefined || better(current, baseline)) wait = 0;
        return;
      }
      if (wait >= patience && epoch > 0) model.stopTraining = true;
    },
    onTrainEnd() {
      if (restore && bestWeights) model.setWeights(bestWeights);
    },
  };
}

/** Keras 3 ModelCheckpoint (save_weights_only, save_freq "epoch"), with the optimizer state. */
function modelCheckpoint(o: ModelCheckpointOptions, path: string, model: Model): Callback {
  if (typeof o.save !== "function") fail(`${path}.save`, "expected a function (bytes, { epoch, logs }) that stores the checkpoint");
  const monitor = monitorOf(o, path), bestOnly = o.saveBestOnly === true;
  const up = bestOnly ? maximize(o.mode, monitor, path) : false;
  const threshold = o.initialValueThreshold === undefined ? undefined : finite(o, "initialValueThreshold", path, 0);
  let best = threshold ?? (up ? -Infinity : Infinity);
  return {
    onTrainBegin() {
      best = threshold ?? (up ? -Infinity : Infinity);
    },
    async onEpochEnd(epoch, logs) {
      if (bestOnly) {
        const current = valueOf(logs, monitor);
        if (current === undefined || !(up ? current > best : current < best)) return;
        best = current;
      }
      await o.save(model.saveWeights(), { epoch, logs: { ...logs } });
    },
  };
}

/** Keras 3 ReduceLROnPlateau, through the module's settable learning rate. */
function reduceLROnPlateau(o: ReduceLROnPlateauOptions, path: string, model: Model): Callback {
  const monitor = monitorOf(o, path), up = maximize(o.mode, monitor, path);
  const factor = num(o as unknown as Record<string, unknown>, "factor", path, 0.1, (x) => x > 0 && x < 1, "a number in (0, 1)");
  const patience = count(o, "patience", path, 10), cooldown = count(o, "cooldown", path, 0);
  const minDelta = finite(o, "minDelta", path, 1e-4), minLr = finite(o, "minLr", path, 0);
  if (model.manifest.training?.learningRateOffset === undefined) {
    fail(path, "reduce_lr_on_plateau changes the learning rate, but this module's rate is compiled in as a constant; compile it with { settableLearningRate: true }");
  }
  const better = (a: number, b: number) => (up ? a > b + minDelta : a < b - minDelta);
  let wait = 0, cooldownLeft = 0, best = up ? -Infinity : Infinity;
  return {
    onTrainBegin() {
      wait = 0;
      cooldownLeft = 0;
      best = up ? -Infinity : Infinity;
    },
    onEpochEnd(_epoch, logs) {
      logs.learning_rate = learningRate(model);
      const current = valueOf(logs, monitor);
      if (current === undefined) return;
      if (cooldownLeft > 0) {
        cooldownLeft--;
        wait = 0;
      }
      if (better(current, best)) {
        best = current;
        wait = 0;
      } else if (cooldownLeft === 0 && ++wait >= patience) {
        const old = learningRate(model);
        if (old > Math.fround(minLr)) {
          setLearningRate(model, Math.max(old * factor, minLr));
          cooldownLeft = cooldown;
          wait = 0;
        }
      }
    },
  };
}

/** Keras's CSVLogger (header "epoch" then the log names sorted, a row per epoch), or one JSON object per epoch. */
function historyLogger(o: HistoryLoggerOptions, path: string): Callback {
  if (typeof o.write !== "function") fail(`${path}.write`, "expected a function (text) that appends the text somewhere");
  const sep = o.separator ?? ",";
  let keys: string[] | undefined;
  return {
    async onEpochEnd(epoch, logs) {
      if (o.type === "json_logger") return o.write(JSON.stringify({ epoch, ...logs }) + "\n");
      const header = !keys;
      keys ??= Object.keys(logs).sort();
      const row = [String(epoch), ...keys.map((k) => (Object.hasOwn(logs, k) ? String(logs[k]) : "NA"))].join(sep);
      await o.write((header ? ["epoch", ...keys].join(sep) + "\n" : "") + row + "\n");
    },
  };
}
