/** The example's configurations, shared by run.mjs and generation-speed.mjs. */

/** The two configurations: the README's full run, and the quick run the tests use. */
export const SETTINGS = {
  full: {
    merges: 2000, emailLimit: Infinity, model: { context: 128, width: 128, layers: 2, heads: 4 },
    epochs: 10, windowsPerEpoch: 800, batchSize: 8, learningRate: 3e-3, evalWindows: 300,
    fineTune: { length: 32, plan: [{ labels: 50, epochs: 20 }, { labels: 200, epochs: 8 }, { labels: "all", epochs: 1 }], seeds: [1, 2, 3], batchSize: 16, learningRate: 3e-4, frozenLearningRate: 3e-3 },
  },
  quick: {
    merges: 200, emailLimit: 300, model: { context: 32, width: 32, layers: 1, heads: 2 },
    epochs: 3, windowsPerEpoch: 80, batchSize: 16, learningRate: 3e-3, evalWindows: 40,
    fineTune: { length: 32, plan: [{ labels: 200, epochs: 10 }], seeds: [1], batchSize: 16, learningRate: 3e-3, frozenLearningRate: 3e-3 },
  },
};
