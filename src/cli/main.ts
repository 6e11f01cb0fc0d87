#!/usr/bin/env node
import { Command } from 'commander';
import { serveCommand } from './serve-command.js';

const serve = serveCommand();
const program = new Command('procgate')
  .description('Run and watch long batch procedures with SQL, over the PostgreSQL wire protocol')
  .addCommand(serve)
  .addHelpText(
    'after',
    `\nOptions of "procgate serve":\n${serve.helpInformation().split('Options:\n')[1] ?? ''}`,
  );

await program.parseAsync(process.argv);
