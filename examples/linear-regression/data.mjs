/**
 * The linear-regression data: y = x1 + x2 on four points that lie on one line (x2 = 2·x1), and
 * the held-out point [5, 10] whose target is 15. Kept in one place so run.mjs and the
 * command-line data files say the same thing.
 */
export const train = {
  x: new Float32Array([1, 2, 2, 4, 3, 6, 4, 8]),
  y: new Float32Array([3, 6, 9, 12]),
  count: 4,
};

export const heldOut = { x: new Float32Array([5, 10]), y: new Float32Array([15]), count: 1 };
