/** (event, rule) -> ECS alert document. */
import type { EcsDocument, EcsObject, EcsValue } from '../model/ecs';
import type { RuleMeta, ThreatEntry } from '../rules/types';
import type { AgentInfo, AlertDocument } from './types';

/** threat.* per rule, built once: every alert of the rule gets a copy. */
const threatByRule = new WeakMap<RuleMeta, EcsObject | null>();

function threatOf(rule: RuleMeta): EcsObject | undefined {
  let threat = threatByRule.get(rule);
  if (threat === undefined) {
    threat = threatFields(rule.threat) ?? null;
    threatByRule.set(rule, threat);
  }
  return threat === null ? undefined : (copyJson(threat) as EcsObject);
}

/** ECS threat.* is flat with array values; Elastic rule files nest it per framework. */
function threatFields(threat: readonly ThreatEntry[]): EcsObject | undefined {
  if (threat.length === 0) return undefined;
  const tactic = { id: [] as string[], name: [] as string[], reference: [] as string[] };
  const technique = { id: [] as string[], name: [] as string[], reference: [] as string[] };
  const subtechnique = { id: [] as string[], name: [] as string[], reference: [] as string[] };
  const add = (into: typeof tactic, ref: { id: string; name: string; reference?: string }): void => {
    if (into.id.includes(ref.id)) return;
    into.id.push(ref.id);
    into.name.push(ref.name);
    if (ref.reference !== undefined) into.reference.push(ref.reference);
  };
  for (const entry of threat) {
    if (entry.tactic !== undefined) add(tactic, entry.tactic);
    for (const t of entry.technique ?? []) {
      add(technique, t);
      for (const s of t.subtechnique ?? []) add(subtechnique, s);
    }
  }
  const out: EcsObject = { framework: (threat[0] as ThreatEntry).framework };
  if (tactic.id.length > 0) out.tactic = tactic;
  if (technique.id.length > 0) out.technique = subtechnique.id.length > 0 ? { ...technique, subtechnique } : technique;
  return out;
}

/** A deep copy of JSON data (several times faster than structuredClone on event-sized objects). */
function copyJson(value: EcsValue): EcsValue {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson);
  const out: EcsObject = {};
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v === undefined) continue;
    // A data key named "__proto__" (ECS input is untrusted) must not replace the prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value: copyJson(v), writable: true, enumerable: true, configurable: true });
    else out[key] = copyJson(v);
  }
  return out;
}

/**
 * The triggering event's fields (deep-copied: the alert outlives the event and may be
 * serialized later) plus event.kind "alert", rule.*, threat.*, agent.*.
 * @timestamp stays the event's time, so a replay reproduces the live run's alerts exactly.
 */
export function buildAlert(event: EcsDocument, rule: RuleMeta, agent: AgentInfo): AlertDocument {
  const alert = copyJson(event) as EcsObject;
  const eventField = alert.event;
  const eventObject: EcsObject = typeof eventField === 'object' && eventField !== null && !Array.isArray(eventField) ? eventField : {};
  eventObject.kind = 'alert';
  alert.event = eventObject;
  if (typeof alert['@timestamp'] !== 'string') alert['@timestamp'] = new Date().toISOString();
  const ruleFields: EcsObject = {
    id: rule.id,
    name: rule.name,
    severity: rule.severity,
    risk_score: rule.riskScore,
    reference: rule.references.slice() as EcsValue[],
  };
  if (rule.description !== undefined) ruleFields.description = rule.description;
  alert.rule = ruleFields;
  const threat = threatOf(rule);
  if (threat !== undefined) alert.threat = threat;
  else delete alert.threat;
  alert.agent = { name: agent.name, version: agent.version, id: agent.id, type: 'keysentry' };
  return alert;
}
