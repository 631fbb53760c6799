/**
 * Recurrent layers over [T, F] inputs: simple_rnn, lstm (gates i, f, c, o; forget-gate bias starts
 * at 1) and gru (reset_after, gates z, r, h; bias [2, 3u] = input and recurrent biases). Output
 * [units], or [T, units] with return_sequences.
 */
import type { OpDef } from "./op.js";
import { COMPILE_LIMITS } from "../../limits.js";
import { activationAttr, boolAttr, expectRank, initAttr, initializer, normActivation, sizeAttr, withDefaults } from "./attrs.js";
import { lowerGru, lowerLstm, lowerSimpleRnn } from "../../passes/lower/recurrent.js";
import type { Lowering } from "../../passes/lower/layers.js";

type Kind = "simple_rnn" | "lstm" | "gru";
const GATES: Record<Kind, number> = { simple_rnn: 1, lstm: 4, gru: 3 };

const LOWERINGS: Record<Kind, Lowering> = { simple_rnn: lowerSimpleRnn, lstm: lowerLstm, gru: lowerGru };

function recurrent(name: Kind, description: string): OpDef {
  const attrs = {
    units: sizeAttr("Size of the hidden state."),
    ...(name === "simple_rnn" ? { activation: activationAttr("tanh") } : {}),
    return_sequences: boolAttr("Return the hidden state of every step ([T, units]) instead of the last ([units]).", false),
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
      if (x[0]! > COMPILE_LIMITS.recurrentSteps) {
        // Each step is compiled into the module as its own kernel calls.
        ctx.error(`${name} over ${x[0]} time steps: kiln unrolls recurrent layers step by step and allows at most ${COMPILE_LIMITS.recurrentSteps} steps per layer`, undefined, "limit");
        return undefined;
      }
      const u = a.units as number;
      return a.return_sequences ? [x[0], u] : [u];
    },
    weights([x], a) {
      const u = a.units as number;
      const g = GATES[name] * u;
      const kernel = [x[1], g];
      const rec = [u, g];
      const bias = name === "gru" ? [2, g] : [g];
      // unit_forget_bias: the forget gate is the second quarter [u, 2u) of the LSTM bias.
      const ones: [number, number] | undefined = name === "lstm" ? [u, 2 * u] : undefined;
      return [
        { name: "kernel", shape: kernel, initializer: initializer(a.kernel_initializer, kernel) },
        { name: "recurrent_kernel", shape: rec, initializer: initializer(a.recurrent_initializer, rec) },
        { name: "bias", shape: bias, initializer: initializer(a.bias_initializer, bias, ones) },
      ];
    },
  };
}

export const simple_rnn = recurrent("simple_rnn", "Fully connected RNN, h = act(x·W + b + h₋₁·U): [T, F] -> [units] or [T, units].");
export const lstm = recurrent("lstm", "Long short-term memory (gates i, f, c, o; forget bias 1): [T, F] -> [units] or [T, units].");
export const gru = recurrent("gru", "Gated recurrent unit, reset_after (gates z, r, h): [T, F] -> [units] or [T, units].");
