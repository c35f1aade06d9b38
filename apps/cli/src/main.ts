import type { Command } from 'commander';
import { registerAccessApprovalCommands } from './commands/access-approvals.js';
import { registerAccessIndexCommands } from './commands/access-index.js';
import { agentCommand, registerAgentCommands } from './commands/agent.js';
import { registerAgentScanCommand } from './commands/agent-scan.js';
import { registerAgentTelemetryCommands } from './commands/agent-telemetry.js';
import { registerCustomerCommands } from './commands/customer.js';
import { registerGatewayCommands } from './commands/gateway.js';
import { registerKeyReleaseCommands } from './commands/keyrelease.js';
import { registerIngestCommands } from './commands/ingest.js';
import { registerResidencyCommands } from './commands/residency.js';
import { registerResidencyMonitorCommand } from './commands/residency-monitor.js';
import { registerResidencyStatusCommand } from './commands/residency-status.js';
import { registerSiteCommands } from './commands/site.js';
import { registerSupervisorResidencyCommands } from './commands/supervisor-residency.js';
import { registerAssemblyCommands } from './commands/assembly.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerLogCommands } from './commands/log.js';
import { registerMonitorCommands } from './commands/monitor.js';
import { registerNoteCommands } from './commands/note.js';
import { registerPortalCommands } from './commands/portal.js';
import { registerReleaseCommands } from './commands/release.js';
import { registerRepoCommands } from './commands/repo.js';
import { registerStartCommand } from './commands/start.js';
import { registerSupervisorCommands } from './commands/supervisor.js';
import { registerWitnessCommands } from './commands/witness.js';
import { type Io, processIo } from './io.js';
import { newProgram, runProgram } from './program.js';

/** Builds the `glasshouse` command tree; `io` is injected so tests can run it in-process. */
export function buildProgram(io: Io): Command {
  const program = newProgram(
    io,
    'Glasshouse: supervised builds, witnessed transparency logs and access transparency.\n' +
      'Every role (vendor, supervisor, endpoint, reviewer) has its commands here.',
  );
  registerStartCommand(program, io);
  registerKeyCommands(program, io);
  registerNoteCommands(program, io);
  registerPortalCommands(program, io);
  registerLogCommands(program, io);
  registerMonitorCommands(program, io);
  registerWitnessCommands(program, io);
  registerAssemblyCommands(program, io);
  registerReleaseCommands(program, io);
  registerSupervisorCommands(program, io);
  registerRepoCommands(program, io);
  registerAgentCommands(program, io);
  registerAgentScanCommand(agentCommand(program), io);
  registerAgentTelemetryCommands(agentCommand(program), io);
  registerSupervisorResidencyCommands(program, io);
  registerCustomerCommands(program, io);
  registerResidencyCommands(program, io);
  registerResidencyStatusCommand(program, io);
  registerResidencyMonitorCommand(program, io);
  registerSiteCommands(program, io);
  registerIngestCommands(program, io);
  registerAccessIndexCommands(program, io);
  registerAccessApprovalCommands(program, io);
  registerGatewayCommands(program, io);
  registerKeyReleaseCommands(program, io);
  return program;
}

/**
 * Runs the CLI and returns the exit code: 0 success, 1 a verification or
 * operation failed (with its error code on stderr), 2 a usage error.
 */
export function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  return runProgram(buildProgram(io), argv, io);
}
