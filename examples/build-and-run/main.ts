// Build an image from a Dockerfile with BuildKit, then run it: the SDK's `docker build -t … && docker run --rm …`.
// The context is made here: Debian's static busybox, a Dockerfile that installs it `FROM scratch` (so no
// registry is needed), a greeting passed as a build arg, and a file `.dockerignore` keeps out of the image.
//
// The builder: $BUILDKIT_HOST when set (`unix:///run/buildkit/buildkitd.sock`, `tcp://…`,
// `docker://unix:///var/run/docker.sock`), else dockerd's BuildKit when /var/run/docker.sock exists, else
// buildkitd's default sockets. containerd: $CONTAINERD_ADDRESS (or /run/containerd/containerd.sock); when
// none answers, a private one under a temp dir for the demo (root needed).
import { existsSync } from 'node:fs'
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BuildError, Client, UnavailableError } from 'containerd-sdk'
import { createPlainRenderer } from 'containerd-sdk/build'
import { startContainerd, type ContainerdDaemon } from 'containerd-sdk/testing'

const TAG = 'example.com/hello-build:1'
const builder = process.env['BUILDKIT_HOST'] ?? (existsSync('/var/run/docker.sock') ? 'docker://unix:///var/run/docker.sock' : undefined)

let daemon: ContainerdDaemon | undefined
let client: Client
try {
  client = await Client.connect({ namespace: 'build-example' })
} catch (err) {
  if (!(err instanceof UnavailableError)) throw err
  console.log('No containerd answered: starting a private one for this demo…')
  daemon = await startContainerd()
  client = await Client.connect({ address: daemon.address, namespace: 'build-example', dataRoot: join(daemon.dir, 'nerdctl') })
}

const context = await mkdtemp(join(tmpdir(), 'csdk-build-example-'))
try {
  await copyFile('/bin/busybox', join(context, 'busybox'))
  await writeFile(join(context, 'Dockerfile'), [
    'FROM scratch',
    'COPY busybox /bin/busybox',
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
    'ARG GREETING',
    'RUN echo "$GREETING" > /greeting && ls / > /listing',
    'COPY *.txt /ctx/',
    'CMD ["sh", "-c", "cat /greeting; echo \\"context files: $(ls /ctx | tr \'\\\\n\' \' \')\\""]',
    '',
  ].join('\n'))
  await writeFile(join(context, '.dockerignore'), 'notes.txt\n')
  await writeFile(join(context, 'notes.txt'), 'kept out of the image (and never sent) by .dockerignore\n')
  await writeFile(join(context, 'app.txt'), 'part of the image\n')

  console.log(`building ${TAG} with ${builder ?? 'the default BuildKit'}…`)
  const result = await client.build({
    context,
    tags: [TAG],
    buildArgs: { GREETING: 'hello from a Dockerfile built by BuildKit' },
    network: 'none',
    ...(builder !== undefined ? { builder } : {}),
    onProgress: createPlainRenderer((text) => process.stderr.write(text)),
  })
  for (const image of result.images) console.log(`built ${image.name} (${image.digest})`)

  const run = await client.run(TAG, { rm: true, stdio: 'pipe', network: 'none' })
  console.log(`run exited ${run.exitCode}:`)
  process.stdout.write(run.stdout ?? '')
  await client.images.remove(TAG)
} catch (err) {
  if (err instanceof BuildError) console.error(`the build failed at ${err.step ?? 'an unknown step'}:\n${err.logs.join('\n')}`)
  else if (err instanceof UnavailableError) console.error(`no BuildKit answered (${err.message}): set BUILDKIT_HOST, e.g. docker://unix:///var/run/docker.sock`)
  throw err
} finally {
  await rm(context, { recursive: true, force: true })
  client.close()
  await daemon?.stop()
}
