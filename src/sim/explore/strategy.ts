// The exploration strategies' names, apart so the command line can list them
// without loading the simulator.
export const STRATEGIES = ['dfs', 'random', 'pct', 'guided'] as const;
export type Strategy = (typeof STRATEGIES)[number];
