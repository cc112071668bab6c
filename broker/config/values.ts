/** Values of mosquitto.conf lines: integers in a range and Mosquitto's booleans. */

export function parseInteger(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

export function parseBoolean(text: string): boolean | undefined {
  return text === 'true' ? true : text === 'false' ? false : undefined;
}
