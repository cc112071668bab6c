/**
 * `.hgrm` files: HdrHistogram's percentile distribution of each merged latency histogram, in µs, for HdrHistogram's
 * plotter and other tools that read the format.
 */
import type { LatencyHistogram } from '../metrics/histogram.js';

export interface HgrmFile {
  /** A bare file name (no directory), safe on Linux, macOS and Windows. */
  fileName: string;
  text: string;
}

// Longest stem kept before ".hgrm": well under every file system's 255-byte limit, even with a "-2" suffix.
const MAX_STEM = 120;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

/**
 * One file per non-empty histogram, in the order given; `name` is e.g. "e2e" or "publishers.e2e". Names are made
 * safe for a file name (anything but letters, digits, ".", "_" and "-" becomes "_"; no leading dot, no "..", no
 * reserved Windows device name) and kept distinct: two names that clean up alike get "-2", "-3" suffixes.
 */
export function hgrmFiles(histograms: ReadonlyMap<string, LatencyHistogram> | Readonly<Record<string, LatencyHistogram>>): HgrmFile[] {
  const entries = histograms instanceof Map ? [...histograms] : Object.entries(histograms);
  const used = new Set<string>();
  const out: HgrmFile[] = [];
  for (const [name, histogram] of entries) {
    if (histogram.count === 0) continue;
    const stem = safeStem(name);
    let fileName = `${stem}.hgrm`;
    for (let n = 2; used.has(fileName.toLowerCase()); n++) fileName = `${stem}-${n}.hgrm`;
    // Case-insensitive file systems (macOS, Windows) would let "E2E" overwrite "e2e".
    used.add(fileName.toLowerCase());
    out.push({ fileName, text: histogram.percentileDistribution() });
  }
  return out;
}

/** A name reduced to characters that are safe in a file name on every common system. */
export function safeStem(name: string): string {
  let stem = name
    .normalize('NFKC')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/\.{2,}/g, '.')
    .replace(/^[.\-]+/, '')
    .replace(/[. ]+$/, '');
  if (stem.length > MAX_STEM) stem = stem.slice(0, MAX_STEM).replace(/[.]+$/, '');
  if (stem === '' || stem === '_') stem = 'histogram';
  const firstPart = stem.split('.')[0];
  if (WINDOWS_RESERVED.test(firstPart)) stem = `_${stem}`;
  return stem;
}
