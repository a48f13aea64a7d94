import type { Command } from 'commander';
import type { Wrap } from '../program.js';
import { registerBootstrap } from './bootstrap.js';
import { registerCheckpoints } from './checkpoints.js';
import { registerConsole } from './console.js';
import { registerDemo } from './demo.js';
import { registerDescribe } from './describe.js';
import { registerDev } from './dev.js';
import { registerLag } from './lag.js';
import { registerReplay } from './replay.js';
import { registerRun } from './run.js';
import { registerTail } from './tail.js';

/** Adds every command to the program. */
export function registerCommands(program: Command, wrap: Wrap): void {
  registerDemo(program, wrap);
  registerRun(program, wrap);
  registerDev(program, wrap);
  registerDescribe(program, wrap);
  registerLag(program, wrap);
  registerTail(program, wrap);
  registerCheckpoints(program, wrap);
  registerReplay(program, wrap);
  registerBootstrap(program, wrap);
  registerConsole(program, wrap);
}
