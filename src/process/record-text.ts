/**
 * What each ECS field of an exec event is made of, when toEcsEvent built the event from one live exec record and
 * enrichEvent enriched it: the capture's prefilter (which hurries an exec to JavaScript only when its record holds
 * one of the rules' required texts, see requiredText in src/rules) relies on this, so a field is declared
 * "substring" only if every way toEcsEvent or enrichEvent can fill it is.
 */
import type { FieldText } from '../rules/types';
import { KEYCHAIN_HINTS } from './normalize';

const SUBSTRING: FieldText = { kind: 'substring' };
const UNKNOWN: FieldText = { kind: 'unknown' };
/** normalizeArguments fills the path fields only when mayNameKeychain found one of its hints in argv or the cwd. */
const KEYCHAIN_GATED: FieldText = { kind: 'gated', needles: KEYCHAIN_HINTS };

const FIELD_TEXT: ReadonlyMap<string, FieldText> = new Map<string, FieldText>([
  ['process.executable', SUBSTRING],
  // basename() of the executable.
  ['process.name', SUBSTRING],
  ['process.args', SUBSTRING],
  ['process.working_directory', SUBSTRING],
  // ecsCodeSignature copies the record's own identifiers (the process table's go to process.parent only).
  ['process.code_signature.signing_id', SUBSTRING],
  ['process.code_signature.team_id', SUBSTRING],
  ['process.command_line', { kind: 'joined' }],
  ['keysentry.paths', KEYCHAIN_GATED],
  ['keysentry.keychain_paths', KEYCHAIN_GATED],
  ['keysentry.keychain_locations', KEYCHAIN_GATED],
  // findSubcommand returns one whole argument.
  ['keysentry.subcommand', SUBSTRING],
]);

/**
 * Everything not listed is unknown: process.parent.* and process.Ext.* come from the process table (an earlier
 * record, or none), user.*, host.*, event.* and keysentry.home from elsewhere, numbers and booleans are no text.
 */
export function recordText(field: string): FieldText {
  return FIELD_TEXT.get(field) ?? UNKNOWN;
}
