/**
 * Weights found by name (TF.js manifests, Keras 2 `.h5`): a kiln weight `kernel` of Keras layer
 * `dense_1` is the tensor named `dense_1/kernel`, possibly under outer scopes (`model/dense_1/kernel`)
 * or a recurrent cell (`lstm/lstm_cell/kernel`), with Keras 2's `:0` suffix dropped.
 */
import type { WeightSource } from "./build.js";
import { quote } from "./problems.js";
import type { SourceWeight } from "./tfjs-weights.js";
import type { KerasCall } from "./topology.js";

export function namedWeightSource(weights: Map<string, SourceWeight>): WeightSource {
  const byLeaf = new Map<string, string[]>();
  const clean = new Map<string, string>(); // name without ":0" → original
  for (const original of weights.keys()) {
    const n = original.replace(/:\d+$/, "");
    clean.set(n, original);
    const leaf = n.slice(n.lastIndexOf("/") + 1);
    const list = byLeaf.get(leaf) ?? [];
    list.push(n);
    byLeaf.set(leaf, list);
  }
  const used = new Set<string>();
  return {
    find(call: KerasCall, kerasPath: string): SourceWeight | string {
      const leaf = kerasPath.slice(kerasPath.lastIndexOf("/") + 1);
      const exact: string[] = [], inCell: string[] = [];
      for (const n of byLeaf.get(leaf) ?? []) {
        const rest = restAfterLayer(n, call.name);
        for (const r of rest) {
          if (r === kerasPath) exact.push(n);
          else if (r.endsWith(`/${kerasPath}`) && !r.slice(0, -kerasPath.length - 1).includes("/")) inCell.push(n);
        }
      }
      const hits = exact.length ? exact : inCell;
      if (hits.length === 0) return `the file has no weight named ${quote(`${call.name}/${kerasPath}`)}`;
      if (hits.length > 1) return `several weights of the file match: ${hits.slice(0, 5).map(quote).join(", ")}`;
      const original = clean.get(hits[0]!)!;
      used.add(original);
      return weights.get(original)!;
    },
    unused: () => [...weights.keys()].filter((n) => !used.has(n)),
  };
}

/** The parts of `name` after "<layer>/" where the layer appears as a whole path segment. */
function restAfterLayer(name: string, layer: string): string[] {
  const out: string[] = [];
  const key = `${layer}/`;
  for (let at = name.indexOf(key); at >= 0; at = name.indexOf(key, at + 1)) {
    if (at === 0 || name[at - 1] === "/") out.push(name.slice(at + key.length));
  }
  return out;
}
