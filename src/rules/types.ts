/**
 * The rule engine's public interface: what the rest of the pipeline may use.
 * Everything else under src/rules is internal to the engine.
 */

export interface MitreRef {
  id: string;
  name: string;
  reference?: string;
}

export interface ThreatEntry {
  framework: string;
  tactic?: MitreRef;
  technique?: Array<MitreRef & { subtechnique?: MitreRef[] }>;
}

/** A rule as loaded from an Elastic TOML rule file or a small keysentry TOML/JSON rule. */
export interface RuleMeta {
  id: string;
  name: string;
  description?: string;
  severity: string;
  riskScore: number;
  references: string[];
  tags: string[];
  threat: ThreatEntry[];
  query: string;
  /** File the rule came from. */
  source: string;
}

/** A rule that loaded but cannot be evaluated by the single-event engine (sequence, pipe, non-process category, ...). */
export interface UnsupportedRule {
  meta: RuleMeta;
  reason: string;
}

/** A rule that failed to load: where and why. `line`/`column` are in the rule file when known. */
export interface RuleError {
  source: string;
  name?: string;
  line?: number;
  column?: number;
  message: string;
}

export interface CompiledRuleSet {
  readonly rules: readonly RuleMeta[];
  readonly unsupported: readonly UnsupportedRule[];
  readonly errors: readonly RuleError[];
  /**
   * Rules that match this event (an ECS document as a plain nested or dotted-key object). Treat the result as
   * read-only: every non-matching event gets the same frozen empty array, so evaluating allocates nothing.
   */
  evaluate(doc: object): RuleMeta[];
}

/**
 * What an event field's text is made of, for events the pipeline builds from one live exec record: the stage that
 * builds the events declares it (src/process/record-text.ts), requiredText derives from it the text a record must
 * hold for a rule to match. "Record strings" are the strings the capture's prefilter searches: executable, parent
 * executable, cwd, signing id, team id, each argument.
 */
export type FieldText =
  /** Each string value is a substring of one record string. */
  | { kind: 'substring' }
  /** The value is record strings joined by single spaces: a part of it without a space lies in one record string. */
  | { kind: 'joined' }
  /** The field has a value only when one of `needles` occurs in a record string (ASCII letters case-insensitively). */
  | { kind: 'gated'; needles: readonly string[] }
  /** Nothing is known (filled from the process table, the host, the user; or not text). */
  | { kind: 'unknown' };
