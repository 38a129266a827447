// The docs' TypeScript examples type-check against the package's source (the fast half of the
// doc-example runner; test/integration/docs-examples.test.ts also runs the programs against a daemon).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { extractBlocks, readDocBlocks } from '../../env/doc-blocks.js'
import { REPO_ROOT, typecheckDocBlocks, writeDocBlocks } from '../../env/doc-typecheck.js'

describe('doc blocks', () => {
  it('finds ts programs and snippets, indented ones too, and skips other languages', () => {
    const md = ['# x', '```ts', 'const a = 1', '```', '', '- item', '  ```ts snippet', '  await client.version()', '', '  ```', '```sh', 'ls', '```', '````md', '```ts', 'not a block', '```', '````'].join('\n')
    expect(extractBlocks('x.md', md)).toEqual([
      { file: 'x.md', line: 3, indent: 0, kind: 'program', code: 'const a = 1' },
      { file: 'x.md', line: 8, indent: 2, kind: 'snippet', code: 'await client.version()\n' },
    ])
  })

  it('refuses what nothing would check: unknown attributes, js fences, unclosed fences', () => {
    expect(() => extractBlocks('x.md', '```ts snipet\nx\n```')).toThrow('x.md:1: unknown attribute snipet after ts')
    expect(() => extractBlocks('x.md', 'a\n```typescript\nx\n```')).toThrow('x.md:2: a ```typescript block is never checked')
    expect(() => extractBlocks('x.md', '```ts\nx\n')).toThrow('x.md:1: the code fence is never closed')
    expect(() => extractBlocks('x.md', '  ```ts\nx\n  ```')).toThrow('x.md:2: a code line is indented less than its fence')
  })

})

describe('the docs', () => {
  // One type-check (it compiles src/ too: ~10 s of CPU) for the docs and for three broken blocks that
  // show an error would be reported at its place in the markdown.
  it('every ts block of README.md and docs/guide-*.md type-checks', async () => {
    const blocks = readDocBlocks(REPO_ROOT)
    expect(blocks.length).toBeGreaterThan(20)
    const broken = extractBlocks('broken.md', [
      '```ts', "import { Client } from 'containerd-sdk'", 'const client = await Client.connect()', 'await client.nothing()', '```',
      '```ts snippet', "import { NotFoundError } from 'containerd-sdk'", 'console.log(NotFoundError.name, image.name)', '  await task.bogus()', '```',
      '```ts', 'await client.version()', '```',
    ].join('\n'))
    const dir = await mkdtemp(join(tmpdir(), 'csdk-doc-blocks-'))
    try {
      expect(typecheckDocBlocks(writeDocBlocks([...blocks, ...broken], dir), dir)).toEqual([
        expect.stringMatching(/^broken\.md:4:14 - error TS2339: Property 'nothing' does not exist on type 'Client'/),
        expect.stringMatching(/^broken\.md:9:14 - error TS2339: Property 'bogus' does not exist on type 'Task'/),
        expect.stringMatching(/^broken\.md:12:7 - error TS2304: Cannot find name 'client'/),
      ])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 180_000)
})
