/**
 * The pattern language every kind compiles to before it becomes automaton states:
 * character sets, concatenation, alternation, intersection (Lucene `&`) and bounded/unbounded
 * repetition. Case folding is already applied to the character sets.
 */
import { ANY_CODE_POINT, type CodePointSet, caseVariants, normalize, singleton } from './charset';

export type PatternAst =
  | { readonly type: 'chars'; readonly set: CodePointSet }
  | { readonly type: 'concat'; readonly items: readonly PatternAst[] }
  | { readonly type: 'union'; readonly items: readonly PatternAst[] }
  | { readonly type: 'intersection'; readonly left: PatternAst; readonly right: PatternAst }
  /** `max` is Infinity for an unbounded repeat. */
  | { readonly type: 'repeat'; readonly item: PatternAst; readonly min: number; readonly max: number }
  /** Matches nothing at all (Lucene `#`). */
  | { readonly type: 'nothing' };

export const EMPTY_STRING: PatternAst = { type: 'concat', items: [] };
export const ANY_CHAR: PatternAst = { type: 'chars', set: ANY_CODE_POINT };
export const ANY_STRING: PatternAst = { type: 'repeat', item: ANY_CHAR, min: 0, max: Infinity };

// One set object per character and flag: the alphabet and the epsilon closure tell sets apart by identity first.
const charCache = new Map<number, PatternAst>();

export function charAst(cp: number, caseInsensitive: boolean): PatternAst {
  const key = caseInsensitive ? -1 - cp : cp;
  let ast = charCache.get(key);
  if (ast === undefined) {
    ast = { type: 'chars', set: caseInsensitive ? normalize(caseVariants(cp).flatMap((v) => [v, v])) : singleton(cp) };
    charCache.set(key, ast);
  }
  return ast;
}

export function concat(items: readonly PatternAst[]): PatternAst {
  const flat: PatternAst[] = [];
  for (const item of items) {
    if (item.type === 'concat') flat.push(...item.items);
    else flat.push(item);
  }
  return flat.length === 1 ? (flat[0] as PatternAst) : { type: 'concat', items: flat };
}

/** A literal string, one code point at a time (a surrogate pair is one character). */
export function literalAst(text: string, caseInsensitive: boolean): PatternAst {
  const items: PatternAst[] = [];
  // By index rather than `for...of` (a string iterator and a string per character): rule loads run this cold.
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) as number;
    items.push(charAst(cp, caseInsensitive));
    i += cp > 0xffff ? 2 : 1;
  }
  return concat(items);
}

/** EQL/ES wildcard: `*` any run (empty included), `?` exactly one character, nothing is an escape. */
export function wildcardAst(text: string, caseInsensitive: boolean): PatternAst {
  const items: PatternAst[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) as number;
    if (cp === 0x2a /* * */) {
      if (items[items.length - 1] !== ANY_STRING) items.push(ANY_STRING);
    } else if (cp === 0x3f /* ? */) {
      items.push(ANY_CHAR);
    } else {
      items.push(charAst(cp, caseInsensitive));
    }
    i += cp > 0xffff ? 2 : 1;
  }
  return concat(items);
}
