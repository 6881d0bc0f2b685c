/**
 * The live source factory for `keysentry run` / `record` / `start`: picks the capture
 * facility for this platform and seeds the stream with the processes already running.
 *
 * Linux: `audit` (kernel audit, full argv), `connector` (process connector + /proc), `auto`
 * = audit, else connector. macOS (src/sources/mac-live.ts): `es`, `eslogger`, `auto` = es,
 * else eslogger when the executable lacks the EndpointSecurity entitlement.
 */
import type { SeedRecord } from '../model/records';
import { scanLinuxProcesses } from './linux-seed';
import { openMacLiveSource, type MacSourceChoice } from './mac-live';
import { BackendError, NativeEventSource, type NativeEventSourceOptions } from './native';
import type { BatchConsumer, EventSource, SourceItem, SourceStats } from './types';

export type LiveSourceChoice = 'auto' | 'audit' | 'connector' | 'es' | 'eslogger';

/** `urgentText` goes to the native backends (NativeAddonOptions.urgentText); eslogger has no such stage. */
export interface LiveSourceOptions extends Omit<NativeEventSourceOptions, 'backend'> {
  source: LiveSourceChoice;
  platform?: NodeJS.Platform;
}

const PLATFORM_SOURCES: Partial<Record<NodeJS.Platform, readonly LiveSourceChoice[]>> = {
  linux: ['auto', 'audit', 'connector'],
  darwin: ['auto', 'es', 'eslogger'],
};

/** Starts capture, then scans the running processes: nothing that starts in between is missed. */
export function openLiveSource(options: LiveSourceOptions): EventSource {
  const { source: choice, platform = process.platform, ...native } = options;
  const allowed = PLATFORM_SOURCES[platform] ?? [];
  if (!allowed.includes(choice)) {
    throw new BackendError(
      allowed.length === 0 ? `no live source on ${platform}` : `source '${choice}' is not available on ${platform} (choose ${allowed.join(', ')})`,
      'EINVAL',
    );
  }
  if (platform === 'linux') {
    const live = new NativeEventSource({ ...native, backend: choice as 'auto' | 'audit' | 'connector' });
    return new SeededSource(live, scanLinuxProcesses());
  }
  const mac = openMacLiveSource(choice as MacSourceChoice, native);
  return new SeededSource(mac.live, mac.seeds);
}

/** Hands out the start-up scan as the first batch, then the live stream. */
export class SeededSource implements EventSource {
  readonly name: string;
  /** Present when the live source pushes (EventSource.deliver): the seeds go first, then its batches. */
  readonly deliver?: (consume: BatchConsumer) => Promise<void>;
  private seedItems: SourceItem[] | undefined;

  constructor(
    private readonly live: EventSource,
    seeds: readonly SeedRecord[],
  ) {
    this.name = live.name;
    this.seedItems = seeds.map((record) => ({ kind: 'record', record, where: 'seed' }));
    const deliverLive = live.deliver?.bind(live);
    if (deliverLive !== undefined) {
      this.deliver = async (consume) => {
        const seeds = this.takeSeeds();
        if (seeds !== undefined) await consume(seeds);
        return deliverLive(consume);
      };
    }
  }

  async *batches(): AsyncIterable<SourceItem[]> {
    const seeds = this.takeSeeds();
    if (seeds !== undefined) yield seeds;
    yield* this.live.batches();
  }

  private takeSeeds(): SourceItem[] | undefined {
    const seeds = this.seedItems;
    this.seedItems = undefined;
    return seeds !== undefined && seeds.length > 0 ? seeds : undefined;
  }

  stop(): Promise<void> {
    return this.live.stop();
  }

  stats(): SourceStats {
    return this.live.stats();
  }

  /** The live source underneath (its native counters, for status). */
  get inner(): EventSource {
    return this.live;
  }
}
