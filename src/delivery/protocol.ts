/**
 * The agent <-> collector wire protocol: JSON text frames over one websocket per agent.
 * docs/delivery.md describes it for people; this file is the definition both sides use.
 *
 *   agent                                   collector
 *   hello {agent, stream, lastSeq}    ->
 *                                     <-    welcome {acked}
 *   alerts {first, alerts[]}          ->    (stored in one transaction with its neighbours)
 *   gap {from, to, count, reason}     ->
 *                                     <-    ack {seq}            cumulative, after commit
 *   health {at, stats}                ->    (latest kept per agent)
 *
 * Sequence numbers are per (agent id, stream): the stream is a random id created with the
 * agent's spool, so an agent whose state directory was wiped starts a new sequence space
 * instead of colliding with the old one. Within a stream every sequence number is one alert,
 * delivered as an alert or accounted for by a gap; the collector refuses a jump that no gap
 * explains.
 */

export const PROTOCOL_VERSION = 1;
/** The websocket path agents connect to; the rest of the HTTP space is the console's. */
export const AGENT_PATH = '/v1/agent';

export interface HelloMessage {
  type: 'hello';
  protocol: number;
  agent: { id: string; name: string; version: string };
  stream: string;
  /** The highest sequence number the agent has spooled (for the collector's records). */
  lastSeq: number;
}

export interface AlertsMessage {
  type: 'alerts';
  /** Sequence number of alerts[0]; alerts[i] has first + i. */
  first: number;
  alerts: Record<string, unknown>[];
}

export type GapReason = 'spool-full' | 'spool-damaged' | 'acked-earlier';

export interface GapMessage {
  type: 'gap';
  from: number;
  to: number;
  /** Always to - from + 1: stated so a reader of the store need not know the rule. */
  count: number;
  reason: GapReason;
}

export type HealthValue = number | string | boolean | null;
export interface HealthMessage {
  type: 'health';
  /** ISO-8601 time the agent took the snapshot. */
  at: string;
  stats: Record<string, HealthValue>;
}

export type AgentMessage = HelloMessage | AlertsMessage | GapMessage | HealthMessage;

export interface WelcomeMessage {
  type: 'welcome';
  /** Everything up to and including this sequence number is committed. */
  acked: number;
}

export interface AckMessage {
  type: 'ack';
  seq: number;
}

export type CollectorMessage = WelcomeMessage | AckMessage;

/** Close codes (RFC 6455 section 7.4): the reason text says what exactly. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  invalidData: 1007,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
} as const;
