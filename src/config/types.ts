/** The agent's configuration as the rest of keysentry sees it (camelCase, defaults applied). */

export const SOURCE_CHOICES = ['auto', 'es', 'eslogger', 'audit', 'connector'] as const;
/** `auto`: EndpointSecurity on macOS, kernel audit (falling back to the process connector) on Linux. */
export type SourceChoice = (typeof SOURCE_CHOICES)[number];

export const LOG_LEVELS = ['error', 'warn', 'info', 'verbose', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface TlsConfig {
  /** PEM bundle of CAs trusted for the collector's certificate; null = the system store. */
  caFile: string | null;
  /** Client certificate and key (PEM) for mutual TLS; both or neither. */
  certFile: string | null;
  keyFile: string | null;
  /** False disables certificate verification (lab use only; logged as a warning at start). */
  verify: boolean;
}

export interface DeliveryConfig {
  /** ws:// or wss:// URL of the collector; null = alerts are only logged, nothing is sent. */
  url: string | null;
  /** File holding the bearer token (its content is never logged). */
  tokenFile: string | null;
  tls: TlsConfig;
}

export interface StateConfig {
  /** The agent's own state: the delivery spool lives under it. */
  directory: string;
  /** The spool never grows past this; the oldest alerts are dropped (and counted) first. */
  spoolMaxBytes: number;
}

export interface LogConfig {
  level: LogLevel;
  /** keysentry.log (agent log) and alerts.log (one ECS alert a line) are written here. */
  directory: string;
  /** A log file is rotated when it would grow past this size... */
  maxSizeBytes: number;
  /** ...or when it is older than this. 0 = no age limit. */
  maxAgeMs: number;
  /** Rotated files kept per log (keysentry.log.1 .. keysentry.log.N). */
  maxFiles: number;
  /** Also write the agent log to stderr (journald on Linux; off under launchd). */
  stderr: boolean;
}

/** Processes whose events are never evaluated. */
export interface MuteConfig {
  /** Path prefixes of process.executable: "/opt/tool/" mutes the tree, "/usr/bin/security" only that path and below it. */
  pathPrefixes: string[];
  /** process.code_signature.signing_id values, exact. */
  signingIds: string[];
  /** process.code_signature.team_id values, exact. */
  teamIds: string[];
}

export interface StatusConfig {
  /** Root-only unix socket `keysentry status` reads; its directory is made 0700. */
  socket: string;
}

export interface AgentConfig {
  source: SourceChoice;
  rules: { paths: string[] };
  delivery: DeliveryConfig;
  state: StateConfig;
  log: LogConfig;
  mute: MuteConfig;
  status: StatusConfig;
  /** The file this was read from; null when no file existed and only built-in defaults apply. */
  configFile: string | null;
}
