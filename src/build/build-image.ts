/**
 * One Dockerfile build: a session serving the context, Dockerfile, secrets, credentials and export
 * targets; a Solve with the Dockerfile frontend; its Status stream as progress; then the image landed in
 * the client's namespace. Whatever fails, the session is closed and nothing is left tagged.
 */

import { createHash, randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { ClientCore } from '../client/client.js'
import { CanceledError, InvalidArgumentError } from '../grpc/errors.js'
import { watchStreamErrors } from '../grpc/io-error.js'
import { getImage } from '../images/get-image.js'
import type { Image } from '../images/image.js'
import { importImages, type ImportedImage } from '../images/archive/import-images.js'
import { credentialsProvider } from '../registry/registry-access.js'
import type { CredentialsProvider } from '../registry/credentials.js'
import { BuildKit, buildKitInternals, type BuildKitInternals } from './buildkit.js'
import { parseCacheSpecs } from './build-cache.js'
import { buildOutputs, checkBuildOptions, entitlements, frontendAttrs, type BuildOptions } from './build-options.js'
import { planExports, type ExportPlan } from './build-exports.js'
import { readBuildInputs, type BuildInputs } from './build-inputs.js'
import { dockerEngineVersion, removeDockerImage, saveDockerImage } from './docker-engine-images.js'
import { BuildProgressTracker } from './progress/progress-tracker.js'
import { buildErrorFrom } from './progress/build-error.js'
import type { BuildWarning } from './progress/build-progress.js'
import type { CredentialsCallback } from './session/auth-service.js'
import { serveGrpc, type GrpcServer } from './session/grpc-server.js'
import { sessionMethods } from './session/session-methods.js'
import { openSessionTunnel } from './session/session-tunnel.js'

/** What a finished build made. */
export interface BuildResult {
  /** The image under each of `tags` in the client's namespace (empty without the image output). */
  readonly images: readonly Image[]
  /** The manifest digest BuildKit reports (`containerimage.digest`), when it exported an image. */
  readonly digest: string | undefined
  /** Everything the exporters answered (`containerimage.digest`, `containerimage.config.digest`, …). */
  readonly exporterResponse: Readonly<Record<string, string>>
  /** The Dockerfile's warnings (lint checks, deprecated syntax), as BuildKit reported them. */
  readonly warnings: readonly BuildWarning[]
}

/**
 * Builds a Dockerfile with BuildKit and lands the image in `client`'s namespace (see `client.build()`).
 */
export async function buildImage(client: ClientCore, options: BuildOptions): Promise<BuildResult> {
  checkBuildOptions(options)
  const signal = options.signal
  throwIfAborted(signal)
  const given = options.builder instanceof BuildKit ? options.builder : undefined
  const address = typeof options.builder === 'string' ? options.builder : undefined
  if (options.builder !== undefined && given === undefined && address === undefined) {
    throw new InvalidArgumentError('build(): builder must be a BuildKit address or a handle from BuildKit.connect()')
  }
  const inputs = await readBuildInputs(options.context, options.dockerfile, options.secrets, options.ssh)
  const builder = given ?? await BuildKit.connect({ ...(address !== undefined ? { address } : {}), ...(signal !== undefined ? { signal } : {}) })
  try {
    return await buildWith(client, builder, options, inputs)
  } finally {
    // Only a connection made for this build is closed; the caller's handle stays theirs.
    if (given === undefined) builder.close()
  }
}

async function buildWith(client: ClientCore, builder: BuildKit, options: BuildOptions, inputs: BuildInputs): Promise<BuildResult> {
  const signal = options.signal
  const callOptions = signal !== undefined ? { signal } : {}
  const { endpoint, control, transport } = buildKitInternals(builder)
  const dockerSocket = endpoint.kind === 'docker' ? endpoint.socketPath : undefined
  const [info, workers, containerd, dockerVersion] = await Promise.all([
    builder.info(callOptions),
    builder.workers(callOptions),
    client.introspection.server(callOptions).catch(() => undefined),
    dockerSocket === undefined ? undefined : dockerEngineVersion(dockerSocket, signal).catch(() => undefined),
  ])
  const tags = options.tags ?? []
  const plan = planExports(buildOutputs(options), {
    dockerSocket,
    dockerVersion,
    info,
    workers,
    client: containerd === undefined ? undefined : { uuid: containerd.uuid, namespace: client.namespace },
  }, tags)

  // The image arrives over the session while the Solve runs: the import reads it as it comes.
  let importing: Promise<ImportedImage[]> | undefined
  if (plan.image.kind === 'tarball') {
    importing = importImages(client, plan.image.sink, callOptions, { names: tags })
    // Its failure is read below (after the Solve); until then it must not count as unhandled.
    importing.catch(() => undefined)
  }

  const ref = randomBytes(16).toString('hex')
  const sessionId = randomBytes(16).toString('hex')
  const methods = sessionMethods({
    locals: new Map([['context', { dir: inputs.contextDir }], ['dockerfile', { dir: inputs.dockerfileDir }]]),
    secrets: inputs.secrets,
    credentials: sessionCredentials(credentialsProvider(options.auth)),
    exports: plan.targets,
    ...(inputs.ssh !== undefined ? { ssh: inputs.ssh } : {}),
  })
  // A stable key per host and context: BuildKit then keeps the context's files between builds and a
  // rebuild sends only what changed.
  const sharedKey = createHash('sha256').update(`${hostname()}\0${inputs.contextDir}`).digest('hex')
  const tunnel = openSessionTunnel(transport, { id: sessionId, sharedKey, methods: [...methods.keys()] })
  // A broken session fails the Solve, which reports it; its own errors are only listened to, so none
  // can go unhandled.
  const ignore = (): void => undefined
  tunnel.on('error', ignore)
  const server: GrpcServer = serveGrpc(tunnel, methods, { onError: ignore })

  const tracker = new BuildProgressTracker()
  const statusAbort = new AbortController()
  const status = followStatus(control, ref, tracker, options.onProgress, statusAbort.signal)
  const exporters = plan.exporters.map((e) => ({ Type: e.type, Attrs: e.attrs }))
  const [first] = plan.exporters
  try {
    let response: Record<string, string>
    try {
      const solved = await control.solve({
        Ref: ref,
        Session: sessionId,
        Frontend: 'dockerfile.v0',
        FrontendAttrs: frontendAttrs(options, inputs.dockerfileName),
        Entitlements: entitlements(options),
        Cache: { Imports: parseCacheSpecs(options.cacheFrom, 'cacheFrom'), Exports: parseCacheSpecs(options.cacheTo, 'cacheTo') },
        // v0.13+ reads Exporters; older daemons only the first exporter in the deprecated fields.
        Exporters: exporters,
        ExporterDeprecated: first?.type ?? '',
        ExporterAttrsDeprecated: first?.attrs ?? {},
      }, callOptions)
      response = { ...solved.ExporterResponse }
    } catch (err) {
      // The last progress messages explain a failed step: read them before deciding what to throw.
      await settleWithin(status, 2_000)
      if (signal?.aborted === true) throw new CanceledError('the build was canceled', { cause: signal.reason })
      throw buildErrorFrom(tracker, err)
    }
    await settleWithin(status, 2_000)
    const imported = await landImage(client, plan, tags, importing, signal)
    const images = await Promise.all(imported.map((i) => getImage(client, i.name, callOptions)))
    return { images, digest: response['containerimage.digest'], exporterResponse: response, warnings: tracker.warnings() }
  } catch (err) {
    for (const file of plan.opened) file.destroy()
    if (plan.image.kind === 'tarball') {
      // The import reverts what it stored when its input fails: wait for that before returning.
      plan.image.sink.destroy(new CanceledError('the build failed before the image was complete'))
      await importing?.catch(() => undefined)
    }
    if (signal?.aborted === true && !(err instanceof CanceledError)) throw new CanceledError('the build was canceled', { cause: signal.reason })
    throw err
  } finally {
    statusAbort.abort()
    server.close()
    await server.closed
    if (plan.image.kind === 'moby') {
      // The build's own name in dockerd, gone whether or not the build or the import worked (a build
      // canceled during its export may have named it already; a name never made is a 404, ignored).
      await removeDockerImage(plan.image.socketPath, plan.image.name).catch(() => undefined)
    }
  }
}

/** Lands the image output in the client's namespace; the records it made, none without that output. */
async function landImage(client: ClientCore, plan: ExportPlan, tags: readonly string[], importing: Promise<ImportedImage[]> | undefined, signal: AbortSignal | undefined): Promise<ImportedImage[]> {
  const callOptions = signal !== undefined ? { signal } : {}
  switch (plan.image.kind) {
    case 'none':
      return []
    case 'direct':
      // BuildKit wrote and unpacked them in this namespace; the records are read back as they are.
      return Promise.all(plan.image.names.map(async (name) => ({ name, target: (await getImage(client, name, callOptions)).target })))
    case 'tarball':
      // A daemon that exported nothing never opened the target: ending the sink lets the import fail
      // (an empty archive) instead of waiting for ever.
      if (!plan.image.opened) plan.image.sink.end()
      return importing ?? []
    case 'moby': {
      const archive = await saveDockerImage(plan.image.socketPath, plan.image.name, signal)
      watchStreamErrors(archive, () => undefined)
      return importImages(client, archive, callOptions, { names: tags })
    }
  }
}

/** Reads the Status stream into the tracker, telling the caller each event. Never rejects. */
async function followStatus(control: BuildKitInternals['control'], ref: string, tracker: BuildProgressTracker, onProgress: BuildOptions['onProgress'], signal: AbortSignal): Promise<void> {
  try {
    for await (const message of control.status({ Ref: ref }, { signal })) {
      const events = tracker.update(message)
      if (onProgress === undefined) continue
      for (const event of events) {
        try {
          onProgress(event)
        } catch {
          // A throwing progress callback must not break the build (nor crash the process).
        }
      }
    }
  } catch {
    // Canceled by us at the end, or the stream broke: progress is best effort, the Solve decides.
  }
}

/** Waits for `promise` at most `ms` (a Status stream that does not end must not hold up the result). */
async function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([promise, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}

/** The session's Auth answers from the pull credentials; Docker Hub's registry host asks for `docker.io`'s. */
function sessionCredentials(provider: CredentialsProvider): CredentialsCallback {
  return async (host) => {
    const found = await provider(host === 'registry-1.docker.io' ? 'docker.io' : host)
    if (found === undefined) return undefined
    return 'identityToken' in found ? { username: '', secret: found.identityToken } : { username: found.username, secret: found.password }
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new CanceledError('the build was canceled before it started', { cause: signal.reason })
}
