import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// One vitest project per workspace package (packages/*, examples/*), plus the cross-package
// tests in test/. Workspace packages resolve to their TypeScript sources (each export's
// "source" entry), so tests need no build.
function workspaceAliases() {
  const aliases: { find: string; replacement: string }[] = [];
  for (const dir of ['packages', 'examples']) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const manifest = join(dir, entry.name, 'package.json');
      if (!entry.isDirectory() || !existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as {
        name: string;
        exports?: Record<string, { source?: string }>;
      };
      for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
        if (!target.source) continue;
        aliases.push({
          find: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
          replacement: resolve(dir, entry.name, target.source),
        });
      }
    }
  }
  // Longest first, so '@shardline/x/lambda' wins over '@shardline/x'.
  return aliases.sort((a, b) => b.find.length - a.find.length);
}

function packageProjects(dir: string) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'tests')))
    .map((d) => ({
      extends: true as const,
      test: {
        name: dir === 'examples' ? `example-${d.name}` : d.name,
        root: join(dir, d.name),
        include: ['tests/**/*.test.ts'],
      },
    }));
}

export default defineConfig({
  resolve: { alias: workspaceAliases() },
  test: {
    // The AWS SDK v3 warns once per process that it will require Node 22; these machines run
    // Node 20 on purpose. The SDK's own switch silences it.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      ...packageProjects('packages'),
      ...packageProjects('examples'),
      {
        extends: true as const,
        test: {
          name: 'e2e',
          root: 'test',
          include: ['**/*.test.ts'],
          exclude: ['bench/**', 'fixtures/**'],
        },
      },
    ],
  },
});
