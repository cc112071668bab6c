/**
 * One attack in a process of its own, so that thousands of attacking sockets do not share an event loop with the
 * probes that time the broker. Replies once, with the outcome or the error, and exits.
 */
import type { FromAttackChild, ToAttackChild } from './messages.js';
import { ATTACKS } from './attacks/index.js';

function reply(message: FromAttackChild): void {
  process.send!(message, () => process.exit(message.type === 'result' ? 0 : 1));
}

process.on('disconnect', () => process.exit(0));
process.once('message', (message: ToAttackChild) => {
  const attack = ATTACKS.find((a) => a.name === message.attack);
  if (!attack) {
    reply({ type: 'error', message: `unknown attack "${message.attack}"` });
    return;
  }
  attack.run(message.target).then(
    (outcome) => reply({ type: 'result', outcome }),
    (err: Error) => reply({ type: 'error', message: err.message }),
  );
});
