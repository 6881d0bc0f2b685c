/** The alerts stage's interface. */
import type { EcsDocument } from '../model/ecs';

/**
 * An ECS alert document: the triggering event's fields plus `event.kind: "alert"`,
 * `rule.*`, `threat.*` and `agent.*`. Attacker-controlled strings inside it are data.
 */
export type AlertDocument = EcsDocument;

export interface AgentInfo {
  name: string;
  version: string;
  id: string;
}

/** Where alerts go: stdout, the winston alert log, the delivery spool. */
export interface AlertSink {
  write(alert: AlertDocument): void | Promise<void>;
  close?(): Promise<void>;
}
