import { describe, expect, it } from 'vitest';
import { renderProgressLine, renderProgressLog, type ProgressView } from '../../../src/report/progress.js';

const VIEW: ProgressView = {
  elapsedSec: 12.4, connected: 980, clients: 1_000, sentPerSec: 5_012, receivedPerSec: 4_998, errors: 3, p99Us: 4_210,
};

describe('progress', () => {
  it('shows elapsed, connected, rates, errors and e2e p99 on one line', () => {
    const line = renderProgressLine(VIEW);
    expect(line).toBe('00:12  connected   980/1,000  sent   5,012/s  received   4,998/s  errors    3  e2e p99   4.21 ms');
    expect(line).not.toContain('\n');
  });

  it('keeps its width from one second to the next', () => {
    const later = renderProgressLine({ ...VIEW, elapsedSec: 13, connected: 1_000, sentPerSec: 12, errors: 0, p99Us: 12_300 });
    expect(later).toHaveLength(renderProgressLine(VIEW).length);
  });

  it('shows a dash before the first message arrives, and colour only when asked', () => {
    const line = renderProgressLine({ ...VIEW, p99Us: undefined });
    expect(line.endsWith('e2e p99         -')).toBe(true);
    expect(line).not.toMatch(/\u001b/);
    expect(renderProgressLine(VIEW, { color: true })).toMatch(/\u001b\[31m {3}3\u001b\[0m/);
  });

  it('has a plain log-line variant with the same facts', () => {
    expect(renderProgressLog(VIEW)).toBe('elapsed=12s connected=980/1000 sent=5012/s received=4998/s errors=3 e2e_p99=4.21ms');
    expect(renderProgressLog({ ...VIEW, p99Us: undefined, sentPerSec: Number.NaN, receivedPerSec: 2.5 })).toBe(
      'elapsed=12s connected=980/1000 sent=n/a received=2.5/s errors=3 e2e_p99=n/a',
    );
    expect(renderProgressLog({ ...VIEW, p99Us: 1_234_000 })).toContain('e2e_p99=1234ms');
  });
});
