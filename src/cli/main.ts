#!/usr/bin/env node
import { Command } from 'commander';
import { serveCommand } from './serve-command.js';
import { workerCommand } from './worker-command.js';

const serve = serveCommand();
const worker = workerCommand();
/** The top-level help lists every command's options too. */
const optionsOf = (command: Command): string =>
  `\nOptions of "procgate ${command.name()}":\n${command.helpInformation().split('Options:\n')[1] ?? ''}`;
const program = new Command('procgate')
  .description('Run and watch long batch procedures with SQL, over the PostgreSQL wire protocol')
  .addCommand(serve)
  .addCommand(worker)
  .addHelpText('after', () => optionsOf(serve) + optionsOf(worker));

await program.parseAsync(process.argv);
