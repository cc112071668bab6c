/**
 * Mosquitto's command-line tools (mosquitto_passwd, mosquitto_pub, mosquitto_sub) for tests that check the bundled
 * broker and mqbench against them: found next to the mosquitto binary or on PATH. Absent tools leave the tests that
 * need them out, unless MQBENCH_REQUIRE_MOSQUITTO=1 (CI), where their absence fails.
 */
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { findMosquitto } from '../../src/launch/mosquitto.js';

export type MosquittoTool = 'mosquitto_passwd' | 'mosquitto_pub' | 'mosquitto_sub';

export function findMosquittoTool(tool: MosquittoTool): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const broker = findMosquitto();
  if (broker) dirs.unshift(dirname(broker));
  dirs.push('/usr/bin', '/usr/local/bin', '/opt/homebrew/bin');
  return dirs.map((d) => join(d, tool)).find((p) => existsSync(p));
}

/** `[path]` when the tool is there, `[]` otherwise (for describe.each); throws in CI when it is missing. */
export function mosquittoTools(tool: MosquittoTool): string[] {
  const path = findMosquittoTool(tool);
  if (path) return [path];
  if (process.env.MQBENCH_REQUIRE_MOSQUITTO === '1') throw new Error(`MQBENCH_REQUIRE_MOSQUITTO=1 but ${tool} was not found (apt-get install -y mosquitto mosquitto-clients)`);
  return [];
}
