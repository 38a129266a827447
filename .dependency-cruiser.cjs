/**
 * The layer check (`npm run lint:layers`, run by scripts/test.sh): src/ imports only downwards, per the
 * layer diagram in DESIGN.md. A folder may import its own layer and the ones below it, never one above.
 * Type-only imports count too: a type from a higher layer is still a dependency on it.
 * A new folder under src/ must be given a layer here (rule `layer-unassigned`).
 */

/** Lowest first. Each entry: folders under src/ (with everything below them) or files, as regex pieces. */
const layers = [
  ['gen', 'util'], // L0: generated code, plain helpers
  ['grpc'], // L1: the gRPC transport and its errors
  ['client'], // L2: connection, namespaces, leases, content, snapshots, events
  ['image-spec', 'registry'], // L3: the OCI image model; the distribution API
  ['images', 'containers', 'tasks', 'oci'], // L4: containerd semantics
  ['nerdctl'], // L5: nerdctl compatibility
  ['logs', 'network', 'volumes', 'build'], // L6
  ['docker', 'run'], // L7: docker verbs, run()
  ['sdk', 'index\\.ts$'], // L8: the Client facade and the package entry
  ['testing', 'cli'], // L9: the test harness, the csdk CLI
]

/** `^src/(?:a/|b/|index\.ts$)`: a regex for modules in any of the given entries. */
const under = (entries) => `^src/(?:${entries.map((e) => (e.endsWith('$') ? e : `${e}/`)).join('|')})`
const name = (entries) => entries.map((e) => e.replace(/\\\.ts\$$/, '.ts')).join(', ')

const layerRules = layers.slice(0, -1).map((layer, i) => ({
  name: `layer-${i}`,
  comment: `L${i} (${name(layer)}) must not import a higher layer (${name(layers.slice(i + 1).flat())}): see DESIGN.md`,
  severity: 'error',
  from: { path: under(layer) },
  to: { path: under(layers.slice(i + 1).flat()) },
}))

const assigned = under(layers.flat())

/** A cycle made only of `import type` edges is erased at run time; set this to true to let such cycles pass (none is needed now). */
const allowTypeOnlyCycles = false

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'layer-unassigned',
      comment: 'every module under src/ belongs to a layer: add its folder to `layers` in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^src/', pathNot: assigned },
      to: {},
    },
    {
      name: 'layer-unassigned-target',
      comment: 'every module under src/ belongs to a layer: add its folder to `layers` in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: assigned },
    },
    {
      name: 'gen-is-generated',
      comment: 'src/gen is generated from proto/ and imports nothing else from src/',
      severity: 'error',
      from: { path: '^src/gen/' },
      to: { path: '^src/', pathNot: '^src/gen/' },
    },
    {
      name: 'image-spec-is-the-model',
      comment: 'src/image-spec is the leaf OCI image model: src/registry imports it, not the other way round',
      severity: 'error',
      from: { path: '^src/image-spec/' },
      to: { path: '^src/registry/' },
    },
    {
      name: 'logs-not-containers',
      comment: 'src/logs works on log files and logger URIs, not on Container handles',
      severity: 'error',
      from: { path: '^src/logs/' },
      to: { path: '^src/containers/' },
    },
    {
      name: 'containers-not-archives',
      comment: 'src/containers does not need image import/export (src/images/archive)',
      severity: 'error',
      from: { path: '^src/containers/' },
      to: { path: '^src/images/archive/' },
    },
    {
      name: 'src-is-self-contained',
      comment: 'the package ships src/ and dist/ only: nothing under src/ imports test/, bench/ or examples/',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(?:test|bench|examples)/' },
    },
    {
      name: 'no-circular',
      comment: 'no import cycles within src/',
      severity: 'error',
      from: { path: '^src/' },
      to: {
        path: '^src/',
        circular: true,
        ...(allowTypeOnlyCycles ? { viaOnly: { dependencyTypesNot: ['type-only'] } } : {}),
      },
    },
    {
      name: 'no-dev-dependencies',
      comment: 'what src/ imports at run time must be in dependencies, or the published package breaks',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'every import resolves (an unresolved one would also escape the layer rules)',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['types', 'import', 'node', 'default'],
      extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
}
