// Protocol revisions Keyhole serves (MCP 2026-07-28 basic/versioning "Terminology").

/** Modern, stateless revisions: version and capabilities travel in every request's `_meta`. */
export const MODERN_VERSIONS = ['2026-07-28'] as const;
/** Legacy, session-based revisions negotiated by `initialize` (newest first). */
export const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;

export type ModernVersion = (typeof MODERN_VERSIONS)[number];
export type LegacyVersion = (typeof LEGACY_VERSIONS)[number];
export type ProtocolVersion = ModernVersion | LegacyVersion;

export const LATEST_VERSION: ModernVersion = '2026-07-28';
export const LATEST_LEGACY_VERSION: LegacyVersion = '2025-11-25';
export const SUPPORTED_VERSIONS: readonly ProtocolVersion[] = [...MODERN_VERSIONS, ...LEGACY_VERSIONS];

/**
 * MCP 2026-07-28 streamable-http "Protocol Version Header": a request without the header MAY be
 * treated as 2025-03-26, the last revision that did not define it.
 */
export const DEFAULT_LEGACY_HTTP_VERSION: LegacyVersion = '2025-03-26';

export function isModernVersion(v: unknown): v is ModernVersion {
  return typeof v === 'string' && (MODERN_VERSIONS as readonly string[]).includes(v);
}
export function isLegacyVersion(v: unknown): v is LegacyVersion {
  return typeof v === 'string' && (LEGACY_VERSIONS as readonly string[]).includes(v);
}
export function isSupportedVersion(v: unknown): v is ProtocolVersion {
  return isModernVersion(v) || isLegacyVersion(v);
}

/** `_meta` keys reserved by MCP 2026-07-28 (basic/index "_meta"). */
export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;
