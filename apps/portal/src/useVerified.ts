import { useEffect, useState } from 'react';
import type { PortalConfig } from './config.js';
import { reasonOf } from './verify/check.js';

/**
 * Runs a page's verification once per config: its report, or the reason
 * it could not run at all (each check's own failure is inside the report).
 */
export function useVerified<T>(
  config: PortalConfig,
  verify: (config: PortalConfig, now: Date) => Promise<T>,
): { report: T | undefined; error: string | undefined } {
  const [report, setReport] = useState<T | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    const run = { live: true };
    verify(config, new Date())
      .then((r) => {
        if (run.live) setReport(r);
      })
      .catch((err: unknown) => {
        if (run.live) setError(reasonOf(err));
      });
    return () => {
      run.live = false;
    };
  }, [config, verify]);
  return { report, error };
}
