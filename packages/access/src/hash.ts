import { hash } from 'node:crypto';
import type { Sha256 } from '@glasshouse/access-format';

/** node:crypto's one-shot SHA-256: the services' faster stand-in for the pure default (same digests). */
export const nodeSha256: Sha256 = (data) => hash('sha256', data, 'buffer');
