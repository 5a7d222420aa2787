export { withPrefetch, type PrefetchLayer, type PrefetchInputs } from './prefetching-remote-fs.js';
export { Prefetcher, type PrefetchShell, type PrefetchStats, type PrefetchLogger } from './prefetcher.js';
export { PREFETCH_DEFAULTS, resolvePrefetchOptions, type PrefetchOptions } from './options.js';
export { TreePrimer } from './tree-primer.js';
export { warmStart, type WarmStartOptions, type WarmStartReport } from './warm-start.js';
export { inStartOrder } from './start-order.js';
