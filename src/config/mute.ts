/**
 * The mute list: events of these processes are never evaluated.
 *
 * A signing identifier alone proves nothing (anyone can ad-hoc sign a binary as
 * "com.apple.security"), so, as in Santa, a signing-id entry is "TEAMID:signing.id" or
 * "platform:signing.id" and only matches a process whose signature is trusted and carries
 * that team (or is an Apple platform binary). A team-id entry matches every trusted binary
 * of that team. Every check is a prefix compare or a set lookup: linear in the event.
 */
import type { EcsDocument, EcsValue } from '../model/ecs';
import type { MuteConfig } from './types';

function field(doc: EcsDocument, ...keys: string[]): EcsValue | undefined {
  let value: EcsValue | undefined = doc;
  for (const key of keys) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = value[key];
  }
  return value;
}

function pathIsUnder(executable: string, prefix: string): boolean {
  if (prefix.endsWith('/')) return executable.startsWith(prefix);
  return executable === prefix || (executable.startsWith(prefix) && executable.charCodeAt(prefix.length) === 0x2f);
}

/** True when the event's process is muted. */
export function createMuteFilter(mute: MuteConfig): (event: EcsDocument) => boolean {
  const prefixes = [...mute.pathPrefixes];
  const teams = new Set(mute.teamIds);
  const signingIds = new Set(mute.signingIds);
  if (prefixes.length === 0 && teams.size === 0 && signingIds.size === 0) return () => false;
  return (event) => {
    const executable = field(event, 'process', 'executable');
    if (typeof executable === 'string' && prefixes.some((prefix) => pathIsUnder(executable, prefix))) return true;
    if (field(event, 'process', 'code_signature', 'trusted') !== true) return false;
    const team = field(event, 'process', 'code_signature', 'team_id');
    if (typeof team === 'string' && teams.has(team)) return true;
    const signingId = field(event, 'process', 'code_signature', 'signing_id');
    if (typeof signingId !== 'string') return false;
    if (typeof team === 'string' && team !== '' && signingIds.has(`${team}:${signingId}`)) return true;
    return field(event, 'process', 'code_signature', 'is_platform_binary') === true && signingIds.has(`platform:${signingId}`);
  };
}
