/**
 * The one place where ES code-signing flags become ECS `code_signature.{exists, trusted}`.
 * Bits from xnu osfmk/kern/cs_blobs.h.
 */
import type { EcsCodeSignature } from '../model/ecs';
import type { CodeSignatureInfo } from '../model/records';

export const CS_VALID = 0x0000_0001;
export const CS_ADHOC = 0x0000_0002;
export const CS_LINKER_SIGNED = 0x0002_0000;
export const CS_SIGNED = 0x2000_0000;

/**
 * - exists: the image carries a signature (CS_SIGNED).
 * - trusted: signed, still valid (the kernel clears CS_VALID when a page fails validation),
 *   and signed with an identity: ad-hoc and linker-only signatures (CS_ADHOC,
 *   CS_LINKER_SIGNED: `cargo build`, `codesign -s -`) prove nothing about who built the code.
 * Without flags (Linux sources) there is no code_signature at all: a rule's
 * `code_signature.trusted == false` must not fire for lack of data.
 */
export function ecsCodeSignature(cs: CodeSignatureInfo | undefined): EcsCodeSignature | undefined {
  if (cs === undefined || cs.flags === undefined) return undefined;
  const exists = (cs.flags & CS_SIGNED) !== 0;
  const trusted = exists && (cs.flags & CS_VALID) !== 0 && (cs.flags & (CS_ADHOC | CS_LINKER_SIGNED)) === 0;
  const out: EcsCodeSignature = { exists, trusted };
  if (cs.signingId) out.signing_id = cs.signingId;
  if (cs.teamId) out.team_id = cs.teamId;
  if (cs.isPlatformBinary !== undefined) out.is_platform_binary = cs.isPlatformBinary;
  return out;
}
