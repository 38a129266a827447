/** Credentials for one registry: a username and password (or token), or an identity (refresh) token. */
export type RegistryCredentials = PasswordCredentials | IdentityTokenCredentials

/** A username with a password or access token. */
export interface PasswordCredentials {
  /** The user name. */
  username: string
  /** The password or personal access token. */
  password: string
}

/** An identity (OAuth2 refresh) token, as `docker login` stores for some registries. */
export interface IdentityTokenCredentials {
  /** The refresh token. */
  identityToken: string
}

/**
 * Where credentials come from: called with the registry host (`registry.example:5000`, `docker.io`)
 * when a registry asks for them. Returns undefined for anonymous access.
 */
export type CredentialsProvider = (host: string) => Promise<RegistryCredentials | undefined> | RegistryCredentials | undefined
