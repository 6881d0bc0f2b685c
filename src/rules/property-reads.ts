/**
 * Property reads with an inline cache of their own for each key of the documents keysentry builds
 * (src/model/ecs.ts, EcsProcessEvent). In V8 a read `o[key]` whose key varies at one code site is a megamorphic
 * keyed load, a probe of a global cache that costs ~15 ns, and the engine's field fetch is such a site; `o.process`
 * written at a site of its own stays monomorphic over documents built alike (~1 ns). The value read is the same:
 * keys outside this list are read with `o[key]`.
 */
export type PropertyRead = (o: object) => unknown;

type Props = Record<string, unknown>;

const NAMED: ReadonlyMap<string, PropertyRead> = new Map<string, PropertyRead>([
  ['event', (o) => (o as Props).event],
  ['category', (o) => (o as Props).category],
  ['type', (o) => (o as Props).type],
  ['action', (o) => (o as Props).action],
  ['host', (o) => (o as Props).host],
  ['os', (o) => (o as Props).os],
  ['user', (o) => (o as Props).user],
  ['id', (o) => (o as Props).id],
  ['process', (o) => (o as Props).process],
  ['parent', (o) => (o as Props).parent],
  ['pid', (o) => (o as Props).pid],
  ['executable', (o) => (o as Props).executable],
  ['name', (o) => (o as Props).name],
  ['args', (o) => (o as Props).args],
  ['args_count', (o) => (o as Props).args_count],
  ['command_line', (o) => (o as Props).command_line],
  ['working_directory', (o) => (o as Props).working_directory],
  ['code_signature', (o) => (o as Props).code_signature],
  ['exists', (o) => (o as Props).exists],
  ['trusted', (o) => (o as Props).trusted],
  ['Ext', (o) => (o as Props).Ext],
  ['effective_parent', (o) => (o as Props).effective_parent],
  ['previous', (o) => (o as Props).previous],
  ['file', (o) => (o as Props).file],
  ['path', (o) => (o as Props).path],
]);

export function propertyRead(key: string): PropertyRead {
  return NAMED.get(key) ?? ((o) => (o as Props)[key]);
}
