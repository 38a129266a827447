/**
 * Private registries for registry tests: distribution 2.8 in plain, TLS+htpasswd and token modes, a
 * token server, and skopeo to push fixtures and read manifests back. Nothing here needs containerd.
 */

export { REGISTRY_BINARY, startRegistry } from './registry.js'
export type { Credentials, Registry, RegistryMode, StartRegistryOptions } from './registry.js'
export { defaultAuthorize, startTokenServer } from './token-server.js'
export type { Authorizer, TokenRequestRecord, TokenResponse, TokenServer, TokenServerOptions, TokenServerSettings } from './token-server.js'
export { pushFixture, skopeoInspect, skopeoInspectRaw } from './skopeo.js'
export { startTamperProxy, type CdnRequest, type TamperProxy, type TamperRules } from './tamper-proxy.js'
export type { PushedFixture, SkopeoOptions } from './skopeo.js'
export { basicAuthorization, httpRequest, parseChallenge } from './http-request.js'
export type { AuthChallenge, HttpRequestOptions, HttpResponse } from './http-request.js'
export { base64url, decodeJwt, libtrustKeyId, signJwt } from './jwt.js'
export type { ResourceActions, TokenClaims, TokenHeader } from './jwt.js'
export { formatScope, parseScope, parseScopes } from './scope.js'
export type { RequestedScope } from './scope.js'
export { makeCertificateAuthority, makeServerCertificates, makeSigningCertificate } from './certificates.js'
export type { CertificateAuthority, ServerCertificates, SigningCertificate } from './certificates.js'
export { renderRegistryConfig } from './registry-config.js'
export type { RegistryConfigInput } from './registry-config.js'
export { writeHtpasswd } from './htpasswd.js'
export { freePort } from './free-port.js'
export { runTool, ToolError } from './run-tool.js'
export type { RunToolOptions, ToolOutput } from './run-tool.js'
