/** The kernel audit state for tests that check an agent leaves it as it found it. */
import { strict as assert } from 'node:assert';
import { nativeDiagnostics, type AuditDiagnostics } from '../../src/sources/native';

export function audit(): AuditDiagnostics {
  const a = nativeDiagnostics().audit;
  assert.ok(a, 'audit status readable');
  return a;
}

/** The settings, without the lost counter (which other processes move). */
export function configOf(a: AuditDiagnostics): Omit<AuditDiagnostics, 'lost'> {
  const { lost: _lost, ...rest } = a;
  return rest;
}
