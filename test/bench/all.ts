/**
 * Runs every benchmark script of test/bench in turn (each prints its own ratios against a peer
 * measured in the same run). `npm run bench`; one script: `npx tsx test/bench/<name>.ts`.
 *
 * The soak runs 200,000 records here (a few minutes less); `--full-soak` runs its full
 * 1,000,000. Other arguments select scripts by name.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const skip = new Set(['all.ts', 'harness.ts']);
const fullSoak = process.argv.includes('--full-soak');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
/** Arguments per script. */
const argsOf: Record<string, string[]> = { 'soak.ts': fullSoak ? [] : ['--records=200000'] };
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !skip.has(f) && !f.startsWith('_'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const script of scripts) {
  console.log(`\n=== ${script} ===`);
  const args = ['--import', 'tsx', join(here, script), ...(argsOf[script] ?? [])];
  const result = spawnSync(process.execPath, args, {
    stdio: 'inherit',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  if (result.status !== 0) {
    failed++;
    console.error(`${script} exited with ${String(result.status ?? result.signal)}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
