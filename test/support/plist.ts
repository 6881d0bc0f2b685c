/**
 * A strict XML property list parser for tests: it accepts what plutil -lint accepts for
 * XML plists and rejects the rest (unknown elements, stray text, unbalanced tags, a value
 * without its key, duplicate keys, bad integers/reals/dates/base64, unknown entities),
 * each error with line:column.
 */

export type PlistValue =
  | { kind: 'string'; value: string }
  | { kind: 'integer'; value: number }
  | { kind: 'real'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'date'; value: string }
  | { kind: 'data'; value: Buffer }
  | { kind: 'array'; items: PlistValue[] }
  | { kind: 'dict'; entries: Map<string, PlistValue> };

export class PlistError extends Error {}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

class Reader {
  private at = 0;

  constructor(
    private readonly text: string,
    private readonly name: string,
  ) {}

  fail(message: string, at = this.at): never {
    const before = this.text.slice(0, at);
    const line = before.split('\n').length;
    throw new PlistError(`${this.name}:${line}:${at - before.lastIndexOf('\n')}: ${message}`);
  }

  /** Skips whitespace and comments. */
  skip(): void {
    for (;;) {
      while (this.at < this.text.length && ' \t\r\n'.includes(this.text[this.at])) this.at++;
      if (!this.text.startsWith('<!--', this.at)) return;
      const end = this.text.indexOf('-->', this.at + 4);
      if (end < 0) this.fail('unterminated comment');
      this.at = end + 3;
    }
  }

  expect(literal: string): void {
    if (!this.text.startsWith(literal, this.at)) this.fail(`expected '${literal}'`);
    this.at += literal.length;
  }

  done(): boolean {
    return this.at >= this.text.length;
  }

  prolog(): void {
    if (this.text.startsWith('<?xml', this.at)) {
      const end = this.text.indexOf('?>', this.at);
      if (end < 0) this.fail('unterminated XML declaration');
      const declaration = this.text.slice(this.at, end);
      if (!/^<\?xml version="1\.0"( encoding="UTF-8")?\s*$/.test(declaration)) this.fail('expected <?xml version="1.0" encoding="UTF-8"?>');
      this.at = end + 2;
    }
    this.skip();
    if (this.text.startsWith('<!DOCTYPE', this.at)) {
      const doctype = '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">';
      this.expect(doctype);
    }
    this.skip();
  }

  /** `<name>`, `<name/>` or `<name attr="...">`: returns the name and whether it self-closed. */
  openTag(): { name: string; empty: boolean; attributes: string; at: number } {
    const at = this.at;
    if (this.text[this.at] !== '<' || this.text[this.at + 1] === '/') this.fail('expected an element');
    const end = this.text.indexOf('>', this.at);
    if (end < 0) this.fail('unterminated tag');
    let inner = this.text.slice(this.at + 1, end);
    this.at = end + 1;
    const empty = inner.endsWith('/');
    if (empty) inner = inner.slice(0, -1);
    const space = inner.search(/\s/);
    const name = space < 0 ? inner : inner.slice(0, space);
    return { name, empty, attributes: space < 0 ? '' : inner.slice(space).trim(), at };
  }

  closeTag(name: string): void {
    this.skip();
    this.expect(`</${name}>`);
  }

  /** Character data up to the next '<', entities decoded; no markup allowed inside. */
  characters(): string {
    const end = this.text.indexOf('<', this.at);
    if (end < 0) this.fail('unterminated element');
    const raw = this.text.slice(this.at, end);
    let out = '';
    let index = 0;
    while (index < raw.length) {
      const amp = raw.indexOf('&', index);
      if (amp < 0) {
        out += raw.slice(index);
        break;
      }
      out += raw.slice(index, amp);
      const semi = raw.indexOf(';', amp);
      if (semi < 0) this.fail('unterminated entity', this.at + amp);
      const entity = raw.slice(amp + 1, semi);
      if (entity in ENTITIES) out += ENTITIES[entity];
      else if (/^#[0-9]{1,7}$/.test(entity)) out += String.fromCodePoint(Number(entity.slice(1)));
      else if (/^#x[0-9a-fA-F]{1,6}$/.test(entity)) out += String.fromCodePoint(parseInt(entity.slice(2), 16));
      else this.fail(`unknown entity '&${entity};'`, this.at + amp);
      index = semi + 1;
    }
    this.at = end;
    return out;
  }

  value(): PlistValue {
    this.skip();
    const tag = this.openTag();
    const scalar = (): string => {
      if (tag.empty) return '';
      const text = this.characters();
      this.expect(`</${tag.name}>`);
      return text;
    };
    if (tag.attributes !== '') this.fail(`<${tag.name}> takes no attributes`, tag.at);
    switch (tag.name) {
      case 'string':
        return { kind: 'string', value: scalar() };
      case 'integer': {
        const text = scalar().trim();
        if (!/^[+-]?(\d+|0x[0-9a-fA-F]+)$/.test(text)) this.fail(`bad integer '${text}'`, tag.at);
        return { kind: 'integer', value: Number(text) };
      }
      case 'real': {
        const text = scalar().trim();
        if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) this.fail(`bad real '${text}'`, tag.at);
        return { kind: 'real', value: Number(text) };
      }
      case 'true':
      case 'false':
        if (!tag.empty) this.fail(`<${tag.name}/> must be empty`, tag.at);
        return { kind: 'bool', value: tag.name === 'true' };
      case 'date': {
        const text = scalar();
        if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(text)) this.fail(`bad date '${text}'`, tag.at);
        return { kind: 'date', value: text };
      }
      case 'data': {
        const text = scalar().replace(/\s+/g, '');
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) this.fail('bad base64 in <data>', tag.at);
        return { kind: 'data', value: Buffer.from(text, 'base64') };
      }
      case 'array': {
        const items: PlistValue[] = [];
        if (!tag.empty) {
          for (this.skip(); !this.text.startsWith('</array>', this.at); this.skip()) items.push(this.value());
          this.expect('</array>');
        }
        return { kind: 'array', items };
      }
      case 'dict': {
        const entries = new Map<string, PlistValue>();
        if (!tag.empty) {
          for (this.skip(); !this.text.startsWith('</dict>', this.at); this.skip()) {
            const keyTag = this.openTag();
            if (keyTag.name !== 'key' || keyTag.empty) this.fail(`expected <key> in <dict>, got <${keyTag.name}>`, keyTag.at);
            const key = this.characters();
            this.expect('</key>');
            if (entries.has(key)) this.fail(`duplicate key '${key}'`, keyTag.at);
            this.skip();
            if (this.text.startsWith('</dict>', this.at) || this.text.startsWith('<key>', this.at)) this.fail(`key '${key}' has no value`);
            entries.set(key, this.value());
          }
          this.expect('</dict>');
        }
        return { kind: 'dict', entries };
      }
      default:
        return this.fail(`unknown element <${tag.name}>`, tag.at);
    }
  }
}

/** Parses an XML plist; `name` prefixes error locations. */
export function parsePlist(text: string, name = 'plist'): PlistValue {
  const reader = new Reader(text, name);
  reader.prolog();
  const root = reader.openTag();
  if (root.name !== 'plist' || root.attributes !== 'version="1.0"' || root.empty) reader.fail('expected <plist version="1.0">', root.at);
  const value = reader.value();
  reader.closeTag('plist');
  reader.skip();
  if (!reader.done()) reader.fail('content after </plist>');
  return value;
}

/** The root dict's entries, or a PlistError. */
export function parsePlistDict(text: string, name = 'plist'): Map<string, PlistValue> {
  const root = parsePlist(text, name);
  if (root.kind !== 'dict') throw new PlistError(`${name}: the root is a ${root.kind}, expected a dict`);
  return root.entries;
}
