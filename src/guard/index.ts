// The resource-server side of Keyhole's authorization: the guard on MCP endpoints and the RFC 9728
// protected-resource metadata.

export { readCredentials } from './bearer.ts';
export { buildChallenge, type ChallengeError, type ChallengeOptions, GuardRpcError } from './challenge.ts';
export { createGuard, type GuardOptions, type ResourceGuard } from './guard.ts';
export {
  type MetadataRoutesOptions,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataInit,
  protectedResourceMetadata,
  protectedResourceMetadataRoutes,
  resourceMetadataUrl,
  WELL_KNOWN_PRM,
} from './metadata.ts';
