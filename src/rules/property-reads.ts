/**
 * Property reads with an inline cache of their own for each key of the documents keysentry builds
 * (src/model/ecs.ts, EcsProcessEvent) and the few absent keys the fixture rules look for on every event. In V8 a
 * read `o[key]` whose key varies at one code site is a megamorphic keyed load, a probe of a global cache that costs
 * ~15 ns, and the engine's field fetch is such a site; `o.process` written at a site of its own stays monomorphic
 * over documents built alike (~1 ns). One function holds every site, behind a switch on the key's id, so the fetch
 * loop calls one function, which the JIT inlines, rather than a different closure per key. The value read is the
 * same: keys outside this list are read with `o[key]`.
 */
type Props = Record<string, unknown>;

const KEYS: readonly string[] = ['event', 'category', 'type', 'action', 'host', 'os', 'user', 'id', 'process', 'parent', 'pid', 'executable', 'name', 'args', 'args_count', 'command_line', 'working_directory', 'code_signature', 'exists', 'trusted', 'Ext', 'effective_parent', 'previous', 'file', 'path'];

/** The id readKey() dispatches on: the key's own read site, or -1 for the shared `o[key]`. */
export function keyId(key: string): number {
  return KEYS.indexOf(key);
}

/** `o[key]`, read at the site of `id` = keyId(key). */
export function readKey(o: object, id: number, key: string): unknown {
  const p = o as Props;
  switch (id) {
    case 0:
      return p.event;
    case 1:
      return p.category;
    case 2:
      return p.type;
    case 3:
      return p.action;
    case 4:
      return p.host;
    case 5:
      return p.os;
    case 6:
      return p.user;
    case 7:
      return p.id;
    case 8:
      return p.process;
    case 9:
      return p.parent;
    case 10:
      return p.pid;
    case 11:
      return p.executable;
    case 12:
      return p.name;
    case 13:
      return p.args;
    case 14:
      return p.args_count;
    case 15:
      return p.command_line;
    case 16:
      return p.working_directory;
    case 17:
      return p.code_signature;
    case 18:
      return p.exists;
    case 19:
      return p.trusted;
    case 20:
      return p.Ext;
    case 21:
      return p.effective_parent;
    case 22:
      return p.previous;
    case 23:
      return p.file;
    case 24:
      return p.path;
    default:
      return p[key];
  }
}
