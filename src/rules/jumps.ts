/**
 * A rule's formula as jumping code, the way compilers lower boolean expressions: one instruction per atom, each
 * naming the instruction to go to when its atom holds and when it does not. And/or/not become that wiring
 * (`not` swaps the two targets), so evaluating a rule is a loop over a few table rows that short-circuits in the
 * formula's operand order, with no call per and/or/not node. Every atom is emitted once: the code is as large as
 * the formula.
 */
import type { Formula } from './formula';

/** Targets past the last test: the formula holds / does not hold. */
export const HOLDS = -1;
export const FAILS = -2;

export type Atom = Exclude<Formula, { op: 'and' | 'or' | 'not' | 'const' }>;

export interface JumpCode {
  atoms: Atom[];
  ifTrue: number[];
  ifFalse: number[];
}

export type OperandOrder = (args: readonly Formula[], op: 'and' | 'or') => Formula[];

/**
 * Appends the code of `f` to `code` and returns where it starts (HOLDS or FAILS when `f` is constant).
 * `order` gives the operands of an and/or in the order they are to be tested.
 */
export function emitJumps(f: Formula, code: JumpCode, order: OperandOrder): number {
  return emit(f, HOLDS, FAILS, code, order);
}

function emit(f: Formula, onTrue: number, onFalse: number, code: JumpCode, order: OperandOrder): number {
  switch (f.op) {
    case 'const':
      return f.value ? onTrue : onFalse;
    case 'not':
      return emit(f.arg, onFalse, onTrue, code, order);
    case 'and':
    case 'or': {
      // Wired back to front: each operand goes on to the next one when it does not decide the whole.
      const args = order(f.args, f.op);
      let next = f.op === 'and' ? onTrue : onFalse;
      for (let i = args.length - 1; i >= 0; i--) {
        const a = args[i] as Formula;
        next = f.op === 'and' ? emit(a, next, onFalse, code, order) : emit(a, onTrue, next, code, order);
      }
      return next;
    }
    default:
      code.atoms.push(f);
      code.ifTrue.push(onTrue);
      code.ifFalse.push(onFalse);
      return code.atoms.length - 1;
  }
}
