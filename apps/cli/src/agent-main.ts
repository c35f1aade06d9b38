/**
 * The agent's own command tree: only `glasshouse agent …` and `--version`.
 * It is the entry of the agent's product release (bundled by
 * apps/cli/product/build.mjs), so it imports nothing of the vendor's or the
 * supervisor's services (no SQLite, no HTTP servers).
 */
import type { Command } from 'commander';
import { agentCommand, registerAgentCommands } from './commands/agent.js';
import { registerAgentScanCommand } from './commands/agent-scan.js';
import { registerAgentTelemetryCommands } from './commands/agent-telemetry.js';
import { processIo, type Io } from './io.js';
import { newProgram, runProgram } from './program.js';

export function buildAgentProgram(io: Io): Command {
  const program = newProgram(
    io,
    'Glasshouse endpoint agent: installs supervised rules and product releases, scans, sends telemetry.',
  );
  registerAgentCommands(program, io);
  registerAgentScanCommand(agentCommand(program), io);
  registerAgentTelemetryCommands(agentCommand(program), io);
  return program;
}

export function agentMain(argv: readonly string[], io: Io = processIo()): Promise<number> {
  return runProgram(buildAgentProgram(io), argv, io);
}
