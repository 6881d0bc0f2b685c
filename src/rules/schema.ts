/**
 * Field types the rule compiler checks queries against: ECS plus the Elastic Endpoint (Elastic Defend) process
 * fields, as mapped in Elasticsearch. Like Elasticsearch (which resolves every field against the index mapping and
 * rejects an unknown one with "Unknown column"), a non-optional field missing from this table is a load error;
 * `?field` makes an unknown field evaluate as missing instead.
 *
 * `keyword`, `wildcard`, `text`, `ip`, `date` values compare as strings; `long`, `double` as numbers.
 */

export type EsFieldType = 'keyword' | 'wildcard' | 'text' | 'ip' | 'date' | 'long' | 'double' | 'boolean';
export type ValueKind = 'string' | 'number' | 'boolean';

export function valueKind(t: EsFieldType): ValueKind {
  if (t === 'long' || t === 'double') return 'number';
  if (t === 'boolean') return 'boolean';
  return 'string';
}

/** Fields every process object (process, process.parent, process.Ext.effective_parent ...) carries. */
const PROCESS_FIELDS: Record<string, EsFieldType> = {
  args: 'keyword',
  args_count: 'long',
  command_line: 'wildcard',
  entity_id: 'keyword',
  executable: 'keyword',
  name: 'keyword',
  pid: 'long',
  title: 'keyword',
  working_directory: 'keyword',
  env_vars: 'keyword',
  start: 'date',
  exit_code: 'long',
  interactive: 'boolean',
  'code_signature.exists': 'boolean',
  'code_signature.trusted': 'boolean',
  'code_signature.signing_id': 'keyword',
  'code_signature.team_id': 'keyword',
  'code_signature.subject_name': 'keyword',
  'code_signature.status': 'keyword',
  'code_signature.valid': 'boolean',
  'code_signature.digest_algorithm': 'keyword',
  'hash.md5': 'keyword',
  'hash.sha1': 'keyword',
  'hash.sha256': 'keyword',
  'user.id': 'keyword',
  'user.name': 'keyword',
  'group.id': 'keyword',
  'group.name': 'keyword',
  'real_user.id': 'keyword',
  'real_user.name': 'keyword',
  'saved_user.id': 'keyword',
  'saved_user.name': 'keyword',
  'tty.char_device.major': 'long',
  'tty.char_device.minor': 'long',
  'Ext.trusted': 'boolean',
  'Ext.relative_file_creation_time': 'double',
  'Ext.relative_file_name_modify_time': 'double',
  'Ext.session_info.logon_type': 'keyword',
};

const OTHER_FIELDS: Record<string, EsFieldType> = {
  '@timestamp': 'date',
  message: 'text',
  tags: 'keyword',
  'agent.id': 'keyword',
  'agent.type': 'keyword',
  'agent.version': 'keyword',
  'data_stream.dataset': 'keyword',
  'data_stream.namespace': 'keyword',
  'event.action': 'keyword',
  'event.category': 'keyword',
  'event.code': 'keyword',
  'event.dataset': 'keyword',
  'event.id': 'keyword',
  'event.ingested': 'date',
  'event.kind': 'keyword',
  'event.module': 'keyword',
  'event.outcome': 'keyword',
  'event.provider': 'keyword',
  'event.sequence': 'long',
  'event.type': 'keyword',
  'host.architecture': 'keyword',
  'host.hostname': 'keyword',
  'host.id': 'keyword',
  'host.ip': 'ip',
  'host.mac': 'keyword',
  'host.name': 'keyword',
  'host.os.family': 'keyword',
  'host.os.full': 'keyword',
  'host.os.kernel': 'keyword',
  'host.os.name': 'keyword',
  'host.os.platform': 'keyword',
  'host.os.type': 'keyword',
  'host.os.version': 'keyword',
  'user.domain': 'keyword',
  'user.effective.id': 'keyword',
  'user.effective.name': 'keyword',
  'user.id': 'keyword',
  'user.name': 'keyword',
  'group.id': 'keyword',
  'group.name': 'keyword',
  'file.extension': 'keyword',
  'file.name': 'keyword',
  'file.path': 'keyword',
  'file.directory': 'keyword',
  'file.size': 'long',
  'file.type': 'keyword',
  'file.Ext.original.path': 'keyword',
  'file.Ext.original.name': 'keyword',
  'file.Ext.header_bytes': 'keyword',
  'source.ip': 'ip',
  'source.port': 'long',
  'source.address': 'keyword',
  'destination.ip': 'ip',
  'destination.port': 'long',
  'destination.address': 'keyword',
  'destination.domain': 'keyword',
  'dns.question.name': 'keyword',
  'dns.question.type': 'keyword',
  'network.direction': 'keyword',
  'network.protocol': 'keyword',
  'network.transport': 'keyword',
  'network.type': 'keyword',
  'url.domain': 'keyword',
  'url.full': 'wildcard',
  'url.original': 'wildcard',
  'url.path': 'wildcard',
  'dll.name': 'keyword',
  'dll.path': 'keyword',
  'dll.code_signature.trusted': 'boolean',
  'dll.code_signature.exists': 'boolean',
  'Effective_process.executable': 'keyword',
  'Effective_process.name': 'keyword',
};

/**
 * keysentry's own enrichment fields (engineer H, src/process/normalize.ts, docs/normalization.md).
 * ADD NEW `keysentry.*` FIELDS HERE, one line each, so rules in rules/keysentry-keychain/ type-check.
 */
const KEYSENTRY_FIELDS: Record<string, EsFieldType> = {
  // --- engineer H (detection): src/process/normalize.ts, documented in docs/normalization.md ---
  'keysentry.paths': 'keyword',
  'keysentry.keychain_paths': 'keyword',
  'keysentry.keychain_locations': 'keyword',
  'keysentry.subcommand': 'keyword',
  'keysentry.home': 'keyword',
  'keysentry.dropped': 'long',
  // --- end engineer H ---
};

function buildSchema(): Map<string, EsFieldType> {
  const schema = new Map<string, EsFieldType>(Object.entries(OTHER_FIELDS));
  const processObjects = ['process', 'process.parent', 'process.previous', 'process.group_leader', 'process.session_leader', 'process.entry_leader', 'process.Ext.effective_parent'];
  for (const prefix of processObjects) {
    for (const [name, type] of Object.entries(PROCESS_FIELDS)) schema.set(`${prefix}.${name}`, type);
  }
  for (const [name, type] of Object.entries(KEYSENTRY_FIELDS)) schema.set(name, type);
  return schema;
}

export const FIELD_SCHEMA: ReadonlyMap<string, EsFieldType> = buildSchema();
