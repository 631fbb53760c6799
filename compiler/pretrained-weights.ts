/**
 * `loadPretrainedWeights`: loads a weights file that covers only part of a model, as after
 * `kiln import --cut-at` and a new head (the head's weights are not in the imported file). Weights
 * the file has are loaded; weights it lacks keep the model's current values (the graph's seeded
 * initializers, on a newly loaded model); tensors the model does not have are skipped. All three
 * lists come back so the caller can say what happened (kiln train prints them). As Keras's
 * `load_weights(..., skip_mismatch=True)` skips what does not match with a warning per skip
 * (and Keras 2's `by_name=True` ignores layers of the file the model lacks), names the model does
 * not have are reported, not refused; but a weight the model has with another shape or dtype is
 * still an error naming it (Keras would skip it with skip_mismatch; kiln refuses: a head meant to be
 * reused with a different shape is better renamed), and so is a file holding none of the model's
 * weights (most likely the wrong file).
 *
 * Compiler-side (it uses the full safetensors reader and writer); the runtime's own
 * `Model.loadWeights` stays strict and small. It merges the file into the model's current weights
 * and loads the result with `loadWeights`, so every check of that loader (shapes, dtypes, finite
 * values, optimizer state) applies, and a refused file leaves the model as it was.
 */
import { KilnError } from "./frontend/diagnostics.js";
import { readSafetensors, writeSafetensors, type StWriteTensor } from "../runtime/safetensors.js";
import type { Model } from "../runtime/model.js";

export interface PretrainedWeights {
  /** Weights (and optimizer tensors) read from the file. */
  loaded: string[];
  /** The model's weights the file does not have: they keep their current values (the initializers' on a new model). */
  initialized: string[];
  /** Tensors of the file the model does not have: skipped. */
  ignored: string[];
}

export function loadPretrainedWeights(model: Model, file: Uint8Array): PretrainedWeights {
  const given = readSafetensors(file).tensors;
  const optimizer = model.canTrain && [...given.keys()].some((k) => k.startsWith("optimizer/"));
  // The model's own tensors as they are now, then the file's over them.
  const merged = new Map<string, StWriteTensor>(readSafetensors(model.saveWeights({ optimizer })).tensors);
  const weightNames = new Set(model.manifest.weights.map((w) => w.name));
  const loaded: string[] = [], ignored: string[] = [];
  for (const [name, t] of given) {
    if (merged.has(name)) {
      merged.set(name, t);
      loaded.push(name);
    } else if (!name.startsWith("optimizer/") || model.canTrain) {
      ignored.push(name); // an inference-only model ignores optimizer state, as loadWeights does
    }
  }
  const initialized = [...weightNames].filter((n) => !given.has(n));
  if (weightNames.size > 0 && initialized.length === weightNames.size) {
    const some = [...given.keys()].slice(0, 5).map((n) => JSON.stringify(n)).join(", ");
    throw new KilnError({ code: "weights", path: "weights", message: `the file holds none of the model's ${weightNames.size} weights (its tensors: ${some || "none"}${given.size > 5 ? ", ..." : ""}); is it the weights file of this graph?` });
  }
  model.loadWeights(writeSafetensors(merged));
  return { loaded, initialized, ignored };
}
