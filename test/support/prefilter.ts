/**
 * The capture prefilter's check as the native side makes it, for tests: an exec record is urgent when one of the
 * needles occurs in one of its strings (executable, parent executable, cwd, signing id, team id, any argument),
 * compared as UTF-8 bytes, ASCII letters case-insensitively and every other byte exactly.
 */
import type { ExecRecord } from '../../src/model/records';

/** The record strings the prefilter searches. */
export function prefilterStrings(record: ExecRecord): string[] {
  const out = [record.process.executable, ...record.args];
  for (const s of [record.parentExecutable, record.cwd, record.process.codeSignature?.signingId, record.process.codeSignature?.teamId]) {
    if (s !== undefined) out.push(s);
  }
  return out;
}

/** The needles of `needles` found in the record's strings (empty: the exec may wait). */
export function prefilterHits(record: ExecRecord, needles: readonly string[]): string[] {
  const haystacks = prefilterStrings(record).map(foldedBytes);
  return needles.filter((n) => {
    const needle = foldedBytes(n);
    return haystacks.some((h) => h.indexOf(needle) >= 0);
  });
}

export function prefilterUrgent(record: ExecRecord, needles: readonly string[]): boolean {
  return prefilterHits(record, needles).length > 0;
}

/** UTF-8 (or raw bytes) with the ASCII upper-case letters (0x41..0x5a) lowered: only those, as the native compare folds. */
export function foldedBytes(s: string | Buffer): Buffer {
  const bytes = Buffer.from(s);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b >= 0x41 && b <= 0x5a) bytes[i] = b | 0x20;
  }
  return bytes;
}
