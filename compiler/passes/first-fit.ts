/**
 * First-fit placement of blocks in an arena that grows upward: `allocate(size)` returns the lowest
 * offset where `size` bytes fit between live blocks (or the top of the highest live block),
 * `free(offset, size)` gives a block back. O(log n) per call: the free gaps below the top are kept
 * in a treap ordered by offset, each node knowing the longest gap in its subtree, so the lowest
 * gap that fits is found by one descent. (The planner used to re-sort and scan every live block
 * for every allocation: O(n² log n) for a training step, whose forward activations all stay live.)
 */

interface Gap {
  start: number;
  length: number;
  /** The longest gap in this subtree. */
  longest: number;
  priority: number;
  left?: Gap;
  right?: Gap;
}

export class FirstFitArena {
  private root: Gap | undefined;
  /** The end of the highest live block: everything above it is free. */
  private top = 0;
  /** The highest `top` ever reached: the arena's size. */
  high = 0;
  // A fixed-seed generator keeps the treap's shape (and so the time) the same run to run.
  private seed = 0x9e3779b9;

  allocate(size: number): number {
    const gap = this.lowestFitting(this.root, size);
    if (!gap) {
      const at = this.top;
      this.top += size;
      this.high = Math.max(this.high, this.top);
      return at;
    }
    const { start, length } = gap;
    this.root = remove(this.root, start);
    if (length > size) this.insert(start + size, length - size);
    return start;
  }

  free(offset: number, size: number): void {
    let start = offset, end = offset + size;
    const below = this.floor(this.root, offset);
    if (below && below.start + below.length === offset) {
      start = below.start;
      this.root = remove(this.root, below.start);
    }
    const above = this.find(this.root, end);
    if (above) {
      end = above.start + above.length;
      this.root = remove(this.root, above.start);
    }
    if (end === this.top) this.top = start;
    else this.insert(start, end - start);
  }

  private insert(start: number, length: number): void {
    this.seed = (Math.imul(this.seed ^ (this.seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    this.root = insert(this.root, { start, length, longest: length, priority: this.seed });
  }

  private lowestFitting(g: Gap | undefined, size: number): Gap | undefined {
    while (g && g.longest >= size) {
      if (g.left && g.left.longest >= size) g = g.left;
      else if (g.length >= size) return g;
      else g = g.right;
    }
    return undefined;
  }

  /** The gap with the largest start ≤ x. */
  private floor(g: Gap | undefined, x: number): Gap | undefined {
    let best: Gap | undefined;
    while (g) {
      if (g.start <= x) (best = g), (g = g.right);
      else g = g.left;
    }
    return best;
  }

  private find(g: Gap | undefined, start: number): Gap | undefined {
    while (g && g.start !== start) g = start < g.start ? g.left : g.right;
    return g;
  }
}

function update(g: Gap): Gap {
  g.longest = Math.max(g.length, g.left?.longest ?? 0, g.right?.longest ?? 0);
  return g;
}

/** Splits a treap into keys < x and keys ≥ x. */
function split(g: Gap | undefined, x: number): [Gap | undefined, Gap | undefined] {
  if (!g) return [undefined, undefined];
  if (g.start < x) {
    const [l, r] = split(g.right, x);
    g.right = l;
    return [update(g), r];
  }
  const [l, r] = split(g.left, x);
  g.left = r;
  return [l, update(g)];
}

function merge(a: Gap | undefined, b: Gap | undefined): Gap | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.priority > b.priority) {
    a.right = merge(a.right, b);
    return update(a);
  }
  b.left = merge(a, b.left);
  return update(b);
}

function insert(root: Gap | undefined, g: Gap): Gap | undefined {
  const [l, r] = split(root, g.start);
  return merge(merge(l, g), r);
}

function remove(root: Gap | undefined, start: number): Gap | undefined {
  const [l, rest] = split(root, start);
  const [, r] = split(rest, start + 1);
  return merge(l, r);
}
