import { Command, CommanderError } from 'commander';
import { CodedError } from '@glasshouse/errors';
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
import { UsageError, type Io, processIo } from './io.js';

/** Builds the `glasshouse` command tree; `io` is injected so tests can run it in-process. */
export function buildProgram(io: Io): Command {
  const program = new Command('glasshouse')
    .description(
      'Glasshouse: supervised builds, witnessed transparency logs and access transparency.\n' +
        'Every role (vendor, supervisor, endpoint, reviewer) has its commands here.',
    )
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        io.stdout(s);
      },
      writeErr: (s) => {
        io.stderr(s);
      },
    });
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
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    return reportError(err, io);
  }
}

function reportError(err: unknown, io: Io): number {
  if (err instanceof CommanderError) {
    // Help and --version also arrive here, with exit code 0.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof UsageError) {
    io.stderr(`error: ${err.message}\n`);
    return 2;
  }
  if (err instanceof CodedError) {
    io.stderr(`${err.code}: ${err.message}\n`);
    return 1;
  }
  io.stderr(`INTERNAL_ERROR: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
