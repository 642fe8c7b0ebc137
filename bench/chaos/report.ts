import type { ChaosEvent } from './killer.js';
import type { ChaosCounts, SentMessage } from './ledger.js';

/** The chaos run's verdict and its printout. */
export interface ChaosReport {
  settings: Record<string, unknown>;
  counts: ChaosCounts;
  kills: number;
  temporalRestarts: number;
  postgresRestarts: number;
  unexpectedExits: number;
  events: ChaosEvent[];
  /** Up to 20 lost and 20 doubled messages, for the diagnosis. */
  lostSample: SentMessage[];
  doubledSample: SentMessage[];
  pass: boolean;
  runDir: string;
}

const seconds = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'n/a');

export function formatReport(r: ChaosReport): string {
  const c = r.counts;
  const lines = [
    '',
    '| messages sent | answered exactly once | lost | doubled | not accepted | stray replies | worst time to answer | p50 | p99 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${c.sent} | ${c.answeredOnce} | ${c.lost} | ${c.doubled} | ${c.notAccepted} | ${c.strayReplies} | ${seconds(c.worstAnswerMs)} | ${seconds(c.p50AnswerMs)} | ${seconds(c.p99AnswerMs)} |`,
    '',
    `chaos: ${r.kills} kill -9 (API, worker, gateway), ${r.temporalRestarts} Temporal restart(s), ${r.postgresRestarts} PostgreSQL restart(s); ${r.unexpectedExits} exit(s) nobody asked for (restarted)`,
  ];
  for (const m of r.lostSample) lines.push(`  lost: ${m.tag} via ${m.via}, sent at +${new Date(m.sentAt).toISOString()}`);
  for (const m of r.doubledSample) lines.push(`  doubled: ${m.tag} via ${m.via}, ${m.answers.length} replies`);
  lines.push(`${r.pass ? 'PASS' : 'FAIL'}: ${c.lost} lost, ${c.doubled} doubled, ${c.notAccepted} not accepted (target 0 / 0 / 0)`);
  return lines.join('\n');
}
