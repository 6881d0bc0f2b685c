import { strict as assert } from 'node:assert';
import type { FieldJson, Formula } from '../src/rules/formula';
import { emitJumps, HOLDS, type JumpCode } from '../src/rules/jumps';
import { chooseGate, operandOrder, simplify } from '../src/rules/optimize';
import { prng } from './support/random';

const FIELDS: FieldJson[] = ['event.type', 'process.name', 'process.args'].map((path) => ({ path, kind: 'string', patterns: [] }));
const m = (field: number, ...patterns: number[]): Formula => ({ op: 'match', field, patterns });

/** Truth of a formula when field f's matched pattern ids are hits[f] (other atoms: a fixed coin per atom). */
function truth(f: Formula, hits: Set<number>[]): boolean {
  switch (f.op) {
    case 'and':
      return f.args.every((a) => truth(a, hits));
    case 'or':
      return f.args.some((a) => truth(a, hits));
    case 'not':
      return !truth(f.arg, hits);
    case 'const':
      return f.value;
    case 'match':
      return f.patterns.some((p) => hits[f.field]?.has(p));
    default:
      return false;
  }
}

function randomFormula(rnd: () => number, depth: number): Formula {
  const r = rnd();
  if (depth === 0 || r < 0.3) return r < 0.03 ? { op: 'const', value: rnd() < 0.5 } : m(Math.floor(rnd() * 3), Math.floor(rnd() * 4), Math.floor(rnd() * 4));
  if (r < 0.45) return { op: 'not', arg: randomFormula(rnd, depth - 1) };
  const n = 1 + Math.floor(rnd() * 4);
  return { op: r < 0.72 ? 'and' : 'or', args: Array.from({ length: n }, () => randomFormula(rnd, depth - 1)) };
}

describe('rules: formula rewrites', () => {
  it('merges same-field alternatives and negations, folds constants', () => {
    assert.deepEqual(simplify({ op: 'or', args: [m(1, 0), m(2, 0), m(1, 3)] }), { op: 'or', args: [m(1, 0, 3), m(2, 0)] });
    assert.deepEqual(simplify({ op: 'and', args: [{ op: 'not', arg: m(2, 1) }, m(1, 0), { op: 'not', arg: m(2, 2) }] }), { op: 'and', args: [{ op: 'not', arg: m(2, 1, 2) }, m(1, 0)] });
    assert.deepEqual(simplify({ op: 'and', args: [m(1, 0), { op: 'or', args: [{ op: 'const', value: true }, m(2, 0)] }] }), m(1, 0));
    assert.deepEqual(simplify({ op: 'not', arg: { op: 'not', arg: m(0, 1) } }), m(0, 1));
  });

  it('keeps the truth of 20,000 random formulas under every hit assignment tried', () => {
    const rnd = prng(99);
    for (let i = 0; i < 20_000; i++) {
      const f = randomFormula(rnd, 4);
      const s = simplify(f);
      for (let k = 0; k < 8; k++) {
        const hits = FIELDS.map(() => new Set([0, 1, 2, 3].filter(() => rnd() < 0.3)));
        assert.equal(truth(s, hits), truth(f, hits), JSON.stringify(f));
      }
      const gate = chooseGate(s, FIELDS);
      if (gate !== undefined) {
        // A gate is implied: whenever the formula holds, the gate's field matched one of its ids.
        for (let k = 0; k < 8; k++) {
          const hits = FIELDS.map(() => new Set([0, 1, 2, 3].filter(() => rnd() < 0.3)));
          if (truth(s, hits)) assert.ok(gate.some((alt) => alt.patterns.some((p) => hits[alt.field]?.has(p))), `${JSON.stringify(s)} gate ${JSON.stringify(gate)}`);
        }
      }
    }
  });

  it('jumping code decides every random formula as the formula does, each atom emitted once', () => {
    const rnd = prng(11);
    const atoms = (f: Formula): number => (f.op === 'and' || f.op === 'or' ? f.args.reduce((n, a) => n + atoms(a), 0) : f.op === 'not' ? atoms(f.arg) : f.op === 'const' ? 0 : 1);
    for (let i = 0; i < 20_000; i++) {
      const f = randomFormula(rnd, 4);
      const code: JumpCode = { atoms: [], ifTrue: [], ifFalse: [] };
      // Reversed operand order: the wiring must not depend on the order it is given.
      const entry = emitJumps(f, code, (args) => [...args].reverse());
      assert.equal(code.atoms.length, atoms(f));
      const hits = [0, 1, 2].map(() => new Set([0, 1, 2, 3].filter(() => rnd() < 0.5)));
      let pc = entry;
      for (let steps = 0; pc >= 0; steps++) {
        assert.ok(steps < code.atoms.length, 'every path visits an atom at most once');
        pc = (truth(code.atoms[pc] as Formula, hits) ? code.ifTrue[pc] : code.ifFalse[pc]) as number;
      }
      assert.equal(pc === HOLDS, truth(f, hits), JSON.stringify(f));
    }
  });

  it('orders operands by expected work: the atom that rules an event out first, unselective fields last', () => {
    const none = operandOrder(FIELDS, new Set());
    // event.type holds on nearly every event: an and tests it last, even after a long field's scan.
    assert.deepEqual(none([m(0, 0), m(2, 0), m(1, 0)], 'and'), [m(1, 0), m(2, 0), m(0, 0)]);
    // A field the gates scan anyway costs its bit test only.
    assert.deepEqual(operandOrder(FIELDS, new Set([2]))([m(0, 0), m(2, 0), m(1, 0)], 'and'), [m(2, 0), m(1, 0), m(0, 0)]);
    // An or stops at its first true operand, a negated unselective atom rarely holds.
    assert.deepEqual(none([m(1, 0), m(0, 0)], 'or'), [m(0, 0), m(1, 0)]);
    const notType: Formula = { op: 'not', arg: m(0, 0) };
    assert.deepEqual(none([m(1, 0), notType], 'and'), [notType, m(1, 0)]);
    // A subtree is ordered by what it costs as a whole: the cheap selective and before the unselective atom.
    const inner: Formula = { op: 'and', args: [m(0, 1), m(1, 1)] };
    assert.deepEqual(none([m(0, 2), inner], 'and'), [inner, m(0, 2)]);
  });

  it('gates on selective fields, through or-branches', () => {
    const f: Formula = { op: 'and', args: [m(0, 0), { op: 'or', args: [m(1, 1), { op: 'and', args: [m(1, 2), m(2, 0)] }] }] };
    assert.deepEqual(chooseGate(f, FIELDS), [{ field: 1, patterns: [1, 2] }]);
    assert.deepEqual(chooseGate(m(0, 3), FIELDS), [{ field: 0, patterns: [3] }]);
    assert.equal(chooseGate({ op: 'not', arg: m(1, 0) }, FIELDS), undefined);
    // Branches constraining different fields give a gate of alternatives: one of them must match.
    const split: Formula = { op: 'or', args: [{ op: 'and', args: [m(0, 0), m(1, 0)] }, { op: 'and', args: [m(0, 1), m(2, 5)] }] };
    assert.deepEqual(chooseGate(split, FIELDS), [{ field: 1, patterns: [0] }, { field: 2, patterns: [5] }]);
  });
});
