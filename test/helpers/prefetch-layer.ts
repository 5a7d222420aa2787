/** withPrefetch over a cache that is on, where the layer always has its Prefetcher (the tests ask it for idle and stats). */
import type { CacheLayer } from '../../fs/cache/layer.js';
import { withPrefetch, type Prefetcher, type PrefetchInputs, type PrefetchLayer } from '../../fs/prefetch/index.js';

export type PrefetchingLayer = PrefetchLayer & { readonly prefetcher: Prefetcher };

export function prefetchingLayer(cache: CacheLayer, inputs: PrefetchInputs): PrefetchingLayer {
  const layer = withPrefetch(cache, inputs);
  const { prefetcher } = layer;
  if (!prefetcher) throw new Error('withPrefetch made no Prefetcher: these tests need the cache on');
  return { ...layer, prefetcher };
}
