/**
 * The live agent, reusable by `keysentry run` and `keysentry start`: live source (seeded
 * with the running processes) -> own-activity filter -> runPipeline (process table, ECS,
 * enrichment, rules, alerts) -> the caller's sinks. Rules reload in place; stop() ends the
 * source and lets the pipeline drain.
 */
import { localAgentInfo, localHostInfo } from '../alerts/agent';
import type { AgentInfo, AlertSink } from '../alerts/types';
import type { EcsDocument } from '../model/ecs';
import { hostKey, type HostInfo } from '../process/ecs';
import { enrichEvent } from '../process/normalize';
import { recordText } from '../process/record-text';
import { ProcessTable } from '../process/table';
import { loadDefaultRuleSet, loadRuleSet, requiredText } from '../rules';
import type { CompiledRuleSet, RuleError, RuleMeta } from '../rules/types';
import { openLiveSource, type LiveSourceChoice } from '../sources/live';
import { NativeEventSource, type NativeCounters } from '../sources/native';
import { WithoutOwnActivity } from '../sources/own-activity';
import type { EventSource } from '../sources/types';
import type { HealthValue } from '../delivery/protocol';
import { RateMeter } from '../status';
import { runPipeline, type PipelineStats, type Rejection } from './pipeline';

export type AgentLogLevel = 'error' | 'warn' | 'info' | 'debug';
export type AgentLog = (level: AgentLogLevel, message: string, meta?: Record<string, unknown>) => void;

export interface AgentOptions {
  /** A live source choice, or a source already opened (tests, `start`'s own). Default auto. */
  source?: LiveSourceChoice | EventSource;
  /** Rule files or directories; empty or absent = the bundled default. */
  rulePaths?: readonly string[];
  sinks: AlertSink[];
  log?: AgentLog;
  /** Events of processes the configuration mutes (config.mute): never evaluated. */
  mute?: (event: EcsDocument) => boolean;
  host?: HostInfo;
  agent?: AgentInfo;
}

export interface AgentSnapshot {
  source: string;
  startedAt: string;
  rulesLoaded: number;
  events: number;
  alerts: number;
  lastAlert: string | null;
  rejected: number;
  /** Events the source lost (kernel, queue); own activity skipped. */
  lost: number;
  ownSkipped: number;
  capture: CaptureHealth;
  native?: NativeCounters;
}

/** Whether the kernel event feed is still in place (docs/native.md, watchdog). */
export interface CaptureHealth {
  /** Times capture was undone by someone else and put back. */
  repairs: number;
  lastRepair: string | null;
  /** Why capture is not in place (detection is blind), null when it is. */
  degraded: string | null;
}

const CAPTURE_CHECK_MS = 1000;

function captureHealth(native: NativeCounters | undefined): CaptureHealth {
  return { repairs: native?.repairs ?? 0, lastRepair: native?.lastRepair ?? null, degraded: native?.degraded ?? null };
}

/**
 * Logs each repair the backend made (a warning: someone removed the agent's audit rules or
 * disabled audit) and each change of the degraded state (an error while it lasts).
 */
function watchCapture(read: () => CaptureHealth, log: AgentLog): NodeJS.Timeout {
  let seen: CaptureHealth = read();
  const timer = setInterval(() => {
    const now = read();
    if (now.repairs > seen.repairs && now.lastRepair !== null) {
      const latest = now.repairs - seen.repairs === 1 ? '' : `, ${now.repairs - seen.repairs} repairs in the last check`;
      log('warn', `${now.lastRepair} (${now.repairs} repairs since start${latest})`, { repairs: now.repairs });
    }
    if (now.degraded !== seen.degraded) {
      if (now.degraded !== null) log('error', `capture degraded, processes are not watched: ${now.degraded}`, { degraded: now.degraded });
      else log('info', 'capture restored');
    }
    seen = now;
  }, CAPTURE_CHECK_MS);
  timer.unref();
  return timer;
}

export interface RunningAgent {
  readonly sourceName: string;
  /** Resolves with the pipeline's stats when the source has ended (after stop()). */
  readonly done: Promise<PipelineStats>;
  stop(): Promise<PipelineStats>;
  /** Reloads the rules from the same paths; on any error keeps the old rules and says why. */
  reloadRules(): { ok: true; rules: number } | { ok: false; reason: string };
  snapshot(): AgentSnapshot;
}

export function describeRuleError(e: RuleError): string {
  const at = e.line === undefined ? e.source : `${e.source}:${e.line}${e.column === undefined ? '' : `:${e.column}`}`;
  return `${at}: ${e.name === undefined ? '' : `rule '${e.name}': `}${e.message}`;
}

/** Loads rules; throws an Error naming the first bad rule (file:line:column) when any fails. */
export function loadAgentRules(paths: readonly string[]): CompiledRuleSet {
  const rules = paths.length > 0 ? loadRuleSet(paths) : loadDefaultRuleSet();
  const first = rules.errors[0];
  if (first !== undefined) {
    const more = rules.errors.length > 1 ? ` (and ${rules.errors.length - 1} more rule errors)` : '';
    throw new Error(`${describeRuleError(first)}${more}`);
  }
  return rules;
}

/** Rules that see nothing of a muted process. */
function withMute(rules: CompiledRuleSet, mute: (event: EcsDocument) => boolean): CompiledRuleSet {
  return {
    rules: rules.rules,
    unsupported: rules.unsupported,
    errors: rules.errors,
    evaluate: (doc: object): RuleMeta[] => (mute(doc as EcsDocument) ? [] : rules.evaluate(doc)),
  };
}

/** Rules as the pipeline runs them, and the text an exec needs for any of them to match (undefined: none known). */
interface AgentRules {
  rules: CompiledRuleSet;
  urgentText: string[] | undefined;
}

/** How the capture treats execs under these rules, for the log. */
function describeUrgency(urgentText: string[] | undefined, capture: NativeEventSource): string {
  if (urgentText === undefined) return 'every exec goes to the rules at once (a rule can match without any particular text)';
  if (urgentText.length === 0) return 'no exec is hurried (no rule can match)';
  return `execs holding one of ${urgentText.length} required texts go to the rules at once, the others within ${capture.quietFlushMicros / 1000} ms`;
}

/** The native capture behind `live`, if any (the seeded wrapper keeps it as `inner`). */
function nativeCapture(live: EventSource): NativeEventSource | undefined {
  const inner = (live as { inner?: EventSource }).inner ?? live;
  return inner instanceof NativeEventSource ? inner : undefined;
}

/** Counts alerts for the snapshot, then passes them on. */
class CountingSinks implements AlertSink {
  count = 0;
  last: string | null = null;
  constructor(private readonly sinks: AlertSink[]) {}
  async write(alert: EcsDocument): Promise<void> {
    this.count++;
    this.last = new Date().toISOString();
    for (const sink of this.sinks) await sink.write(alert);
  }
}

/** Starts capture and detection. Throws BackendError when no live source can start. */
export function startAgent(options: AgentOptions): RunningAgent {
  const log: AgentLog = options.log ?? (() => undefined);
  const rulePaths = options.rulePaths ?? [];
  const mute = options.mute;
  const load = (): AgentRules => {
    const loaded = loadAgentRules(rulePaths);
    // Muting only takes matches away, so the unmuted rules' required text still covers every match.
    return { rules: mute === undefined ? loaded : withMute(loaded, mute), urgentText: requiredText(loaded, recordText) };
  };
  const initial = load();
  let rules = initial.rules;
  for (const u of rules.unsupported) log('warn', `rule '${u.meta.name}' (${u.meta.source}) cannot run on single events: ${u.reason}`);

  const live = typeof options.source === 'object' ? options.source : openLiveSource({ source: options.source ?? 'auto', urgentText: initial.urgentText });
  const capture = nativeCapture(live);
  if (typeof options.source === 'object') capture?.setUrgentText(initial.urgentText ?? null);
  const source = new WithoutOwnActivity(live);
  const host = options.host ?? localHostInfo();
  const counting = new CountingSinks(options.sinks);
  const startedAt = new Date().toISOString();
  let pipelineStats: PipelineStats | undefined;
  let rejected = 0;
  let events = 0;

  log('info', `watching process execs with ${live.name}, ${rules.rules.length} rules`, { source: live.name, rules: rules.rules.length });
  if (capture !== undefined) log('info', describeUrgency(initial.urgentText, capture), { urgentText: initial.urgentText });
  const done = runPipeline({
    source,
    table: new ProcessTable({ hostId: hostKey(host) }),
    host,
    agent: options.agent ?? localAgentInfo(),
    rules: () => rules,
    sinks: [counting],
    enrich: enrichEvent,
    onEvent: () => {
      events++;
    },
    onReject: (r: Rejection) => {
      rejected++;
      log('warn', `rejected ${r.where}: ${r.reason}`);
    },
  }).then((stats) => (pipelineStats = stats));

  const nativeCounters = (): NativeCounters | undefined => capture?.counters();
  const captureWatch = watchCapture(() => captureHealth(nativeCounters()), log);
  const endWatch = (): void => clearInterval(captureWatch);
  done.then(endWatch, endWatch);

  return {
    sourceName: live.name,
    done,
    async stop() {
      await source.stop();
      return done;
    },
    reloadRules() {
      try {
        const next = load();
        // The new needles first: an exec only the new rules can match is not held back meanwhile.
        capture?.setUrgentText(next.urgentText ?? null);
        rules = next.rules;
        log('info', `rules reloaded: ${next.rules.rules.length} rules`, { rules: next.rules.rules.length });
        if (capture !== undefined) log('info', describeUrgency(next.urgentText, capture), { urgentText: next.urgentText });
        return { ok: true, rules: next.rules.rules.length };
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        log('error', `rule reload failed, keeping the ${rules.rules.length} rules in force: ${reason}`);
        return { ok: false, reason };
      }
    },
    snapshot() {
      const native = nativeCounters();
      const snap: AgentSnapshot = {
        source: live.name,
        startedAt,
        rulesLoaded: rules.rules.length,
        events: pipelineStats?.events ?? events,
        alerts: counting.count,
        lastAlert: counting.last,
        rejected,
        lost: live.stats().lost,
        ownSkipped: source.filter.skipped,
        capture: captureHealth(native),
      };
      if (native !== undefined) snap.native = native;
      return snap;
    },
  };
}

/**
 * Runs the agent until SIGTERM or SIGINT; SIGHUP reloads the rules. Resolves with the
 * pipeline's stats once the source has stopped and every alert is written.
 */
export async function runAgent(options: AgentOptions): Promise<PipelineStats> {
  const agent = startAgent(options);
  const stop = (): void => void agent.stop();
  const reload = (): void => void agent.reloadRules();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', reload);
  try {
    return await agent.done;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', reload);
  }
}

/**
 * The agent's heartbeat for the collector (docs/delivery.md, shown by the console's fleet
 * view): its counters, and events per second over the last heartbeats. `agent` is read at
 * each beat because the reporter starts before the agent does.
 */
export function agentHeartbeat(agent: () => RunningAgent | null): () => Record<string, HealthValue> {
  const meter = new RateMeter(60_000);
  return (): Record<string, HealthValue> => {
    const running = agent();
    if (running === null) return {};
    const s = running.snapshot();
    meter.sample(s.events);
    return {
      source: s.source,
      rules_loaded: s.rulesLoaded,
      events_seen: s.events,
      events_per_second: Math.round(meter.perSecond() * 10) / 10,
      events_lost: s.lost,
      events_rejected: s.rejected,
      alerts: s.alerts,
      last_alert: s.lastAlert,
      capture_repairs: s.capture.repairs,
      capture_degraded: s.capture.degraded,
    };
  };
}
