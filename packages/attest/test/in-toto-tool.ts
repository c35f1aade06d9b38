/**
 * The Debian `in-toto` 1.3.1 `in-toto-verify`, for tests that check our
 * metadata with the real tool. Exit status: 0 verified, 1 verification
 * failed, 2 bad arguments.
 */
import { execFile, spawnSync } from 'node:child_process';

export const IN_TOTO_VERIFY = 'in-toto-verify';

export const inTotoVerifyInstalled =
  spawnSync(IN_TOTO_VERIFY, ['--version'], { stdio: 'ignore' }).error === undefined;

/** Runs in-toto-verify in `cwd`; resolves with its exit code and combined output. */
export function runInTotoVerify(
  cwd: string,
  args: readonly string[],
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(IN_TOTO_VERIFY, [...args], { cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}
