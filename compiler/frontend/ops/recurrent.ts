/**
 * Recurrent layers over [T, F] inputs: simple_rnn, lstm (gates i, f, c, o; forget-gate bias starts
 * at 1) and gru (gates z, r, h; reset_after=true: bias [2, 3u] = input and recurrent biases;
 * reset_after=false: bias [3u]). Output [units], or [T, units] with return_sequences; go_backwards
 * reads the sequence from its end (and returns the states in that order, as Keras does).
 */
import type { Attrs } from "../graph-types.js";
import type { OpContext, OpDef, WeightDecl } from "./op.js";
import { COMPILE_LIMITS } from "../../limits.js";
import { activationAttr, boolAttr, expectRank, initAttr, initializer, normActivation, sizeAttr, withDefaults } from "./attrs.js";
import { lowerGru, lowerLstm, lowerSimpleRnn, unrolled } from "../../passes/lower/recurrent.js";
import { FUSED_RNN_ACTIVATIONS } from "../../prims/recurrence.js";
import type { Lowering } from "../../passes/lower/layers.js";

export type RecurrentKind = "simple_rnn" | "lstm" | "gru";
export const RECURRENT_KINDS: readonly RecurrentKind[] = ["simple_rnn", "lstm", "gru"];
const GATES: Record<RecurrentKind, number> = { simple_rnn: 1, lstm: 4, gru: 3 };

const LOWERINGS: Record<RecurrentKind, Lowering> = { simple_rnn: lowerSimpleRnn, lstm: lowerLstm, gru: lowerGru };

/**
 * Is T within the compile limits? `kind`/`a` are the recurrent layer (bidirectional's inner one);
 * `label` names it in the message.
 */
export function checkSteps(kind: RecurrentKind, a: Attrs, steps: number, ctx: OpContext, label: string = kind): boolean {
  if (steps > COMPILE_LIMITS.recurrentSteps) {
    ctx.error(`${label} over ${steps} time steps: kiln allows at most ${COMPILE_LIMITS.recurrentSteps} steps per recurrent layer`, undefined, "limit");
    return false;
  }
  if (unrolled(kind, a, steps) && steps > COMPILE_LIMITS.unrolledRecurrentSteps) {
    // No loop kernel for this activation: each step is compiled into the module as its own kernel calls.
    ctx.error(`${label} with activation ${JSON.stringify(a.activation)} over ${steps} time steps: kiln unrolls this layer step by step (its loop kernel covers activations ${FUSED_RNN_ACTIVATIONS.join(", ")}) and allows at most ${COMPILE_LIMITS.unrolledRecurrentSteps} unrolled steps`, "activation", "limit");
    return false;
  }
  return true;
}

/** The recurrent layer's weights in Keras layout, for input features `features`. */
export function recurrentWeights(kind: RecurrentKind, features: number, a: Attrs): WeightDecl[] {
  const u = a.units as number;
  const g = GATES[kind] * u;
  const kernel = [features, g];
  const rec = [u, g];
  const bias = kind === "gru" && a.reset_after !== false ? [2, g] : [g];
  // unit_forget_bias: the forget gate is the second quarter [u, 2u) of the LSTM bias.
  const ones: [number, number] | undefined = kind === "lstm" ? [u, 2 * u] : undefined;
  return [
    { name: "kernel", shape: kernel, initializer: initializer(a.kernel_initializer, kernel) },
    { name: "recurrent_kernel", shape: rec, initializer: initializer(a.recurrent_initializer, rec) },
    { name: "bias", shape: bias, initializer: initializer(a.bias_initializer, bias, ones) },
  ];
}

function recurrent(name: RecurrentKind, description: string): OpDef {
  const attrs = {
    units: sizeAttr("Size of the hidden state."),
    ...(name === "simple_rnn" ? { activation: activationAttr("tanh") } : {}),
    ...(name === "gru" ? { reset_after: boolAttr("Keras 3's default true: the reset gate multiplies h₋₁·U_h + b¹_h, bias [2, 3u]; false (TF.js's GRU, older Keras files): it multiplies h₋₁ before U_h, bias [3u].", true) } : {}),
    return_sequences: boolAttr("Return the hidden state of every step ([T, units]) instead of the last ([units]).", false),
    go_backwards: boolAttr("Process the sequence from its last step to its first; with return_sequences the states come in that processing order (Keras).", false),
    kernel_initializer: initAttr("glorot_uniform", "input kernel"),
    recurrent_initializer: initAttr("orthogonal", "recurrent kernel (one QR over the whole matrix)"),
    bias_initializer: initAttr("zeros", "bias"),
  };
  return {
    lower: LOWERINGS[name],
    name,
    description,
    minInputs: 1,
    maxInputs: 1,
    attrs,
    required: ["units"],
    normalize(raw) {
      const a = withDefaults(this.attrs, raw);
      if (name === "simple_rnn") a.activation = normActivation(a.activation);
      return a;
    },
    shape([x], a, ctx) {
      if (!expectRank(ctx, name, "[T, F]", 2)) return undefined;
      if (!checkSteps(name, a, x[0]!, ctx)) return undefined;
      const u = a.units as number;
      return a.return_sequences ? [x[0]!, u] : [u];
    },
    weights: ([x], a) => recurrentWeights(name, x[1]!, a),
  };
}

export const simple_rnn = recurrent("simple_rnn", "Fully connected RNN, h = act(x·W + b + h₋₁·U): [T, F] -> [units] or [T, units].");
export const lstm = recurrent("lstm", "Long short-term memory (gates i, f, c, o; forget bias 1): [T, F] -> [units] or [T, units].");
export const gru = recurrent("gru", "Gated recurrent unit (gates z, r, h; reset_after true or false): [T, F] -> [units] or [T, units].");
