/**
 * Limits on what one compile may cost, past the front end's limits on the graph text
 * (frontend/parse.ts: bytes, nesting, layers). kiln compiles graphs from strangers: a limit error
 * that names the layer beats a compile that runs for minutes or exhausts memory. Each says what
 * it bounds; `npm run check-limits` compiles a graph at each limit and prints the time of each pass.
 */
import { fail } from "./frontend/diagnostics.js";
import type { Module } from "./ir/ir.js";

export const COMPILE_LIMITS = {
  /**
   * Time steps of one recurrent layer. Past UNROLL_MAX_STEPS (passes/lower/recurrent.ts: 32) a
   * layer is one `recurrence` kernel pair looping over T, whose IR and source do not grow with T;
   * this bounds the loop's trip count (run time, and the saved states, B·T·(up to 7)·units floats,
   * which the memory plan checks against 4 GiB as well).
   */
  recurrentSteps: 1_048_576,
  /**
   * Time steps of a recurrent layer still unrolled past UNROLL_MAX_STEPS (a simple_rnn whose
   * activation has no loop kernel: gelu, elu, silu, softplus, leaky_relu, softmax): each step is its
   * own kernel calls, so the IR, the source and asc's work grow with T.
   */
  unrolledRecurrentSteps: 512,
  /** IR nodes of all programs together, after any pass: bounds every later pass and the source. */
  irNodes: 150_000,
  /** Characters of generated AssemblyScript: bounds asc's time and memory. */
  sourceChars: 24 * 1024 * 1024,
};

/** The layer (by name) that owns the most nodes of the module, and how many. */
function heaviestLayer(mod: Module): [string, number] {
  const count = new Map<string, number>();
  for (const p of mod.programs) for (const n of p.nodes) count.set(n.layer, (count.get(n.layer) ?? 0) + 1);
  return [...count].reduce((a, b) => (b[1] > a[1] ? b : a), ["", 0]);
}

export function nodeCount(mod: Module): number {
  return mod.programs.reduce((s, p) => s + p.nodes.length, 0);
}

/** Throws a `limit` KilnError when the IR has grown past COMPILE_LIMITS.irNodes. */
export function checkNodeLimit(mod: Module, after: string): void {
  const n = nodeCount(mod);
  if (n <= COMPILE_LIMITS.irNodes) return;
  const [layer, most] = heaviestLayer(mod);
  fail("limit", "", `the graph lowers to ${n.toLocaleString("en-US")} IR nodes (after ${after}); the limit is ${COMPILE_LIMITS.irNodes.toLocaleString("en-US")}. `
    + `Layer ${JSON.stringify(layer)} alone makes ${most.toLocaleString("en-US")}: use fewer or smaller layers (recurrent layers cost nodes per time step)`, layer);
}

/** Throws a `limit` KilnError when the generated source is larger than COMPILE_LIMITS.sourceChars. */
export function checkSourceLimit(mod: Module, chars: number): void {
  if (chars <= COMPILE_LIMITS.sourceChars) return;
  const [layer, most] = heaviestLayer(mod);
  fail("limit", "", `the generated AssemblyScript would be ${chars.toLocaleString("en-US")} characters; the limit is ${COMPILE_LIMITS.sourceChars.toLocaleString("en-US")}. `
    + `Layer ${JSON.stringify(layer)} makes the most kernel calls (${most.toLocaleString("en-US")})`, layer);
}
