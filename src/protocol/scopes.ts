// Scope checks for tools, resources and prompts that declare the OAuth scopes they need.
// MCP 2026-07-28 basic/authorization "Scope Challenge Handling": servers MUST account for scope
// hierarchies, where a broader scope implies narrower ones. Keyhole's hierarchy is by `:` segments:
// holding `notes` grants `notes:read` and `notes:read:own`; holding `notes:read` does not grant `notes`.

import type { Principal } from './contract.ts';
import { InsufficientScopeError } from './jsonrpc.ts';

export function scopeSatisfies(held: readonly string[], needed: string): boolean {
  for (const h of held) {
    if (h === needed || (needed.startsWith(h) && needed.charCodeAt(h.length) === 58) /* ':' */) return true;
  }
  return false;
}

/**
 * Throws InsufficientScopeError naming EVERY scope the operation needs (not just the missing ones), so a
 * client's step-up request asks for all of them at once. No principal means authorization is off.
 */
export function requireScopes(principal: Principal | undefined, needed: readonly string[]): void {
  if (!principal || needed.length === 0) return;
  for (const s of needed) {
    if (!scopeSatisfies(principal.scopes, s)) throw new InsufficientScopeError(needed);
  }
}
