/**
 * The agent's own code as a supervised product release: the product step
 * of `agent update`, `agent rollback`, and the product lines of
 * `agent status` (the version running now beside the one installed, which
 * takes effect at the next start).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  rollbackProduct,
  updateProduct,
  type AgentStatus,
  type ProductUpdateResult,
} from '@glasshouse/agent';
import type { Io } from '../io.js';
import { ownPackage } from '../package-info.js';

/** The version of the code running this command, and the directory it runs from. */
export function runningProduct(): { version: string; dir: string } {
  const { version, dir } = ownPackage();
  return { version, dir };
}

/** `agent update`'s product step: prints 'installed …', 'up-to-date …' or 'held-back …'. */
export async function updateProductStep(dir: string, io: Io): Promise<void> {
  const outcome = await updateProduct({
    dir,
    onProgress: (message) => {
      io.stderr(`agent: product: ${message}\n`);
    },
  });
  switch (outcome.status) {
    case 'installed':
      io.stdout(
        `installed ${outcome.release.name} ${outcome.release.version} ${outcome.slot}` +
          `${outcome.downgrade ? ' (rollback release)' : ''} (current at the next start)\n`,
      );
      break;
    case 'up-to-date':
      io.stdout(`up-to-date ${outcome.version}\n`);
      break;
    case 'held-back':
      io.stdout(`held-back ${outcome.version} (rolled back on this endpoint)\n`);
      break;
  }
}

export function registerAgentRollbackCommand(agent: Command, io: Io): void {
  agent
    .command('rollback')
    .description(
      'Make the previous product version current again (an atomic switch of DIR/product/current); the ' +
        'version left becomes previous and is not installed again by "agent update" until a newer ' +
        'release is published. Takes effect when the agent next starts. Fails with ' +
        'AGENT_NO_PREVIOUS_VERSION when there is none.',
    )
    .requiredOption('--dir <dir>', "the agent's data directory")
    .action(async (opts: { dir: string }) => {
      const { from, to } = await rollbackProduct({ dir: resolve(io.cwd, opts.dir) });
      io.stdout(`rolled back ${from} -> ${to} (current at the next start)\n`);
    });
}

/** `agent status`'s product lines. */
export function formatProductStatus(status: AgentStatus): string {
  const product = status.product;
  if (product === undefined) return '';
  const running = runningProduct();
  const version = (v: { version?: string; slot: string } | undefined): string =>
    v === undefined ? 'none' : `${v.version ?? '?'} ${v.slot}`;
  const lines = [
    `product ${product.name}`,
    `product running ${running.version} ${running.dir}`,
    `product installed ${version(product.current)}`,
    `product previous ${version(product.previous)}`,
  ];
  if (product.failed !== undefined) {
    lines.push(`product failed ${product.failed.release.version} (${product.failed.reason})`);
  }
  if (product.rolledBackFrom !== undefined) {
    lines.push(`product held-back ${product.rolledBackFrom}`);
  }
  lines.push(`product ${formatLastUpdate(product.lastUpdate)}`);
  return `${lines.join('\n')}\n`;
}

/** `last-update …` of the rules or the product. */
export function formatLastUpdate(last: ProductUpdateResult | undefined): string {
  if (last === undefined) return 'last-update none';
  switch (last.result) {
    case 'installed':
      return `last-update ${last.at} installed ${last.release.name} ${last.release.version}`;
    case 'up-to-date':
      return `last-update ${last.at} up-to-date ${last.version}`;
    case 'refused':
      return `last-update ${last.at} refused ${last.code}: ${last.message}`;
    case 'rolled-back':
      return `last-update ${last.at} rolled back ${last.from} -> ${last.to}`;
  }
}
