/** Credentials for one registry: a username and password (or token), or an identity (refresh) token. */
export type RegistryCredentials =
  | { username: string; password: string }
  | { identityToken: string }

/**
 * Where credentials come from: called with the registry host (`registry.example:5000`, `docker.io`)
 * when a registry asks for them. Returns undefined for anonymous access.
 */
export type CredentialsProvider = (host: string) => Promise<RegistryCredentials | undefined> | RegistryCredentials | undefined
