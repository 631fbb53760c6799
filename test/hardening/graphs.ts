/**
 * Seeded graphs for the code-generation safety property: a few dozen valid structures (dense,
 * conv, recurrent, attention, merges; with and without training) whose every input, target and
 * layer name is drawn from a hostile vocabulary, plus the same structure with plain names.
 * `sourceOf` runs the compiler pipeline up to the generated AssemblyScript, without asc.
 */
import { runPipelineSync } from "../../compiler/pipeline.js";
import { buildManifest, type Manifest } from "../../compiler/assemble/manifest.js";
import { preludeHelperNames } from "../../compiler/assemble/prelude.js";
import { rng } from "../compile/harness.js";

/** Words that would break or hijack generated code if a name ever reached it. */
const RESERVED = [
  // JavaScript / TypeScript / AssemblyScript keywords and contextual words
  "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else", "enum",
  "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof", "new", "null",
  "return", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield",
  "let", "static", "implements", "interface", "package", "private", "protected", "public", "await", "async",
  "abstract", "declare", "namespace", "module", "type", "readonly", "get", "set", "from", "of", "is", "keyof",
  "as", "any", "never", "unknown", "undefined", "arguments", "eval",
  // AssemblyScript types, builtins and decorators
  "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "v128", "usize", "isize", "bool",
  "load", "store", "unreachable", "abort", "trace", "memory", "heap", "changetype", "sizeof", "offsetof",
  "alignof", "inline", "lazy", "global", "unmanaged", "external", "operator", "assert", "select", "sqrt", "abs",
  "min", "max", "floor", "ceil", "NaN", "Infinity", "Math", "Mathf", "String", "Array", "Object", "Symbol",
  "__heap_base", "__data_end", "__stack_pointer", "__new", "__pin", "__collect", "_start", "main", "start",
  // prototype members
  "__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf",
  "propertyIsEnumerable", "toLocaleString", "__defineGetter__", "__defineSetter__", "__lookupGetter__",
  // kiln's own generated identifiers: kernel and dim names, entry points, kernel parameters
  "k0", "k1", "k2", "k3", "k10", "rt0", "rt1", "rt2", "batch", "predict", "train_step", "evaluate", "scratch",
  "a", "b", "c", "x", "y", "w", "n", "m", "i", "j", "bias", "dx", "dy", "dw", "src", "dst", "out", "acc",
  ...preludeHelperNames(),
];

/** A name used only by this graph: if it ever shows up in source, a name leaked. */
const marker = (r: () => number, k: number) => `zq${Math.floor(r() * 1e9).toString(36)}_${k}_leak`;

export interface HostileCase {
  /** The graph with hostile names (what is compiled). */
  graph: any;
  /** The same structure with plain names (the reference and the expected source). */
  plain: any;
  /** Structure index: equal structures give equal plain graphs. */
  structure: number;
  /** Names and strings in `graph` that are unique to it. */
  markers: string[];
}

type Names = (plain: string) => string;

/** One of a few dozen valid structures; `nm` maps each plain name to the name to use. */
export function structure(s: number, nm: Names): any {
  const r = rng(1000 + s);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const train = s % 2 === 0;
  const act = ["relu", "tanh", "sigmoid", "linear", "gelu", "silu"][int(0, 5)];
  const g = (inputs: any[], layers: any[], outputs: string[], training?: any, targets?: readonly any[]) => ({
    format: "kiln.graph/v2", name: "plain", seed: s, inputs, layers, outputs, ...(training ? { training, targets } : {}),
  });
  const mse = (out: string, tshape: number[]) => [
    { loss: { type: "mean_squared_error", output: nm(out), target: nm("t0") }, optimizer: { type: ["sgd", "adam", "rmsprop", "adamw"][int(0, 3)] }, metrics: ["mean_absolute_error"] },
    [{ name: nm("t0"), shape: tshape }],
  ] as const;
  /** A recurrent layer, a third of the time wrapped in bidirectional; go_backwards, gru reset_after either way. */
  const recurrentLayer = (name: string, op: string, units: number, returnSequences: boolean) => {
    const inner = { op, units, return_sequences: returnSequences, go_backwards: r() < 0.3, ...(op === "gru" ? { reset_after: r() < 0.5 } : {}) };
    if (r() < 2 / 3) return { name, ...inner };
    return { name, op: "bidirectional", merge_mode: ["concat", "sum", "mul", "ave"][int(0, 3)], layer: { ...inner, name: nm("l1in") } };
  };
  switch (Math.floor(s / 2) % 6) {
    case 0: { // dense stack with dropout and normalization
      const d = int(2, 6), u = int(2, 7), o = int(1, 4);
      const layers = [
        { name: nm("l0"), op: "dense", units: u, activation: act },
        { name: nm("l1"), op: "dropout", rate: 0.25 },
        { name: nm("l2"), op: ["layer_normalization", "batch_normalization"][int(0, 1)] },
        { name: nm("l3"), op: "dense", units: o },
      ];
      return train ? g([{ name: nm("i0"), shape: [d] }], layers, [nm("l3")], ...mse("l3", [o])) : g([{ name: nm("i0"), shape: [d] }], layers, [nm("l0"), nm("l3")]);
    }
    case 1: { // conv → pool → flatten → dense
      const h = int(4, 6), c = int(1, 2), f = int(2, 4), o = int(2, 3);
      const layers = [
        { name: nm("l0"), op: "conv2d", filters: f, kernel_size: 3, padding: ["valid", "same"][int(0, 1)], activation: act },
        { name: nm("l1"), op: ["max_pooling2d", "average_pooling2d"][int(0, 1)], pool_size: 2 },
        { name: nm("l2"), op: "flatten" },
        { name: nm("l3"), op: "dense", units: o, activation: "softmax" },
      ];
      const inputs = [{ name: nm("i0"), shape: [h, h, c] }];
      if (!train) return g(inputs, layers, [nm("l3")]);
      const training = { loss: { type: "sparse_categorical_crossentropy", output: nm("l3"), target: nm("t0") }, optimizer: { type: "adam" }, metrics: ["accuracy"] };
      return g(inputs, layers, [nm("l3")], training, [{ name: nm("t0"), shape: [], dtype: "int32" }]);
    }
    case 2: { // embedding → recurrent → dense
      const T = int(2, 4), V = int(3, 9), D = int(2, 4), u = int(2, 4);
      const layers = [
        { name: nm("l0"), op: "embedding", input_dim: V, output_dim: D },
        recurrentLayer(nm("l1"), ["lstm", "gru", "simple_rnn"][int(0, 2)]!, u, r() < 0.5),
        { name: nm("l2"), op: "flatten" },
        { name: nm("l3"), op: "dense", units: 2 },
      ];
      const inputs = [{ name: nm("i0"), shape: [T], dtype: "int32" }];
      return train ? g(inputs, layers, [nm("l3")], ...mse("l3", [2])) : g(inputs, layers, [nm("l1"), nm("l3")]);
    }
    case 3: { // two inputs, two branches, merge, normalization
      const d = int(2, 5), u = int(2, 5);
      const layers = [
        { name: nm("l0"), op: "dense", units: u, activation: act, inputs: [nm("i0")] },
        { name: nm("l1"), op: "dense", units: u, inputs: [nm("i1")] },
        { name: nm("l2"), op: ["add", "multiply", "average", "maximum", "subtract", "concatenate"][int(0, 5)], inputs: [nm("l0"), nm("l1")] },
        { name: nm("l3"), op: "layer_normalization" },
        { name: nm("l4"), op: "dense", units: 2 },
      ];
      const inputs = [{ name: nm("i0"), shape: [d] }, { name: nm("i1"), shape: [d + 1] }];
      return train ? g(inputs, layers, [nm("l4")], ...mse("l4", [2])) : g(inputs, layers, [nm("l2"), nm("l4")]);
    }
    case 4: { // self-attention with positions
      const T = int(2, 4), D = int(2, 4);
      const layers = [
        { name: nm("l0"), op: "multi_head_attention", num_heads: int(1, 2), key_dim: int(1, 3), causal: r() < 0.5 },
        { name: nm("l1"), op: "add", inputs: [nm("l0"), nm("i0")] },
        { name: nm("l4"), op: "reshape", target_shape: [T, D, 1], inputs: [nm("l1")] },
        { name: nm("l2"), op: "global_average_pooling2d", inputs: [nm("l4")] },
        { name: nm("l3"), op: "dense", units: 2, inputs: [nm("l2")] },
      ];
      const inputs = [{ name: nm("i0"), shape: [T, D] }];
      return train ? g(inputs, layers, [nm("l3")], ...mse("l3", [2])) : g(inputs, layers, [nm("l3")]);
    }
    default: { // activations, softmax, reshape, binary loss
      const d = int(2, 6);
      const layers = [
        { name: nm("l0"), op: "dense", units: 4, activation: "elu" },
        { name: nm("l1"), op: "reshape", target_shape: [2, 2] },
        { name: nm("l2"), op: "softmax" },
        { name: nm("l3"), op: "flatten" },
        { name: nm("l4"), op: "dense", units: 1, activation: "sigmoid" },
      ];
      const inputs = [{ name: nm("i0"), shape: [d] }];
      if (!train) return g(inputs, layers, [nm("l2"), nm("l4")]);
      const training = { loss: { type: "binary_crossentropy", output: nm("l4"), target: nm("t0") }, optimizer: { type: "sgd", momentum: 0.9 }, metrics: ["accuracy"] };
      return g(inputs, layers, [nm("l4")], training, [{ name: nm("t0"), shape: [1] }]);
    }
  }
}

/** Case `i` of a run over `structures` structures: hostile names, seeded by `seed` and `i`. */
export function hostileCase(i: number, structures: number, seed = 1): HostileCase {
  const s = i % structures;
  const r = rng(seed * 1_000_003 + i);
  const chosen = new Map<string, string>();
  const used = new Set<string>();
  const markers: string[] = [];
  const nm: Names = (plain) => {
    let name = chosen.get(plain);
    if (name) return name;
    do {
      const roll = r();
      if (roll < 0.2) {
        name = marker(r, chosen.size);
        markers.push(name);
      } else if (roll < 0.3) {
        // a reserved word with a marker tail, or a marker with a reserved word tail: still a valid name
        name = `${RESERVED[Math.floor(r() * RESERVED.length)]}_${marker(r, chosen.size)}`.slice(0, 64);
        markers.push(name);
      } else {
        name = RESERVED[Math.floor(r() * RESERVED.length)];
      }
    } while (used.has(name!) || name === "__metadata__");
    used.add(name!);
    chosen.set(plain, name!);
    return name!;
  };
  const graph = structure(s, nm);
  graph.name = marker(r, 99).replace(/^z/, "Z");
  markers.push(graph.name);
  // `$schema` is the one free-text string of a graph file.
  const text = HOSTILE_TEXT[Math.floor(r() * HOSTILE_TEXT.length)] + marker(r, 98);
  graph.$schema = text;
  markers.push(text);
  return { graph, plain: structure(s, (p) => p), structure: s, markers };
}

const HOSTILE_TEXT = [
  "*/ unreachable(); /*", "\n}\nexport function evil(): void { unreachable(); }\n", "`${process.exit(1)}`", "\\u0000\u0000",
  "\u2028\u2029", "</script><script>alert(1)</script>", "'; DROP TABLE kernels; --", "\"", "//", "${batch}", "k0(0, 0, 0);",
];

/** What `compile()` does up to the generated source, without asc. */
export function sourceOf(input: unknown, maxBatch = 5): { source: string; manifest: Manifest } {
  const b = runPipelineSync({ input, options: { maxBatch, threads: 0, relaxedSimd: false, optimizeLevel: 0, guardBytes: 0 } }, "emit");
  return { source: b.source!, manifest: buildManifest(b.lowered!, b.plan!, { maxBatch, pages: b.pages!, relaxed: false, weightsEmbedded: false }) };
}
