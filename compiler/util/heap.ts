/** A binary min-heap ordered by `less`. */
export class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const a = this.items;
    let i = a.push(x) - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!this.less(x, a[up]!)) break;
      a[i] = a[up]!;
      i = up;
    }
    a[i] = x;
  }

  pop(): T | undefined {
    const a = this.items, top = a[0], last = a.pop();
    if (a.length && last !== undefined) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i, v = last;
        if (l < a.length && this.less(a[l]!, v)) (m = l), (v = a[l]!);
        if (r < a.length && this.less(a[r]!, v)) m = r;
        if (m === i) break;
        a[i] = a[m]!;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}
