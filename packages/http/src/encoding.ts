/**
 * Whether an `Accept-Encoding` header allows a gzip body: tlog-tiles servers
 * (the log and the mirror) compress entry bundles only for clients that say so.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding = '', ...params] = part.trim().toLowerCase().split(';');
    if (coding.trim() !== 'gzip' && coding.trim() !== '*') return false;
    // RFC 9110 §12.5.3: q=0 means "not acceptable".
    return !params.some((p) => /^\s*q\s*=\s*0(?:\.0{0,3})?\s*$/.test(p));
  });
}
