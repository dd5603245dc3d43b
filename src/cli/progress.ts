// Progress for long work: items, rate and ETA, redrawn in place on a TTY; silent when
// stderr is not a terminal or CI is set, so logs stay clean. createProgress is a
// StartProgress: commands pass it to library work that takes one (training, evaluation).
import type { Progress } from '../util/progress.ts';

export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const enabled = Boolean(stream.isTTY) && !process.env.CI;
  const started = Date.now();
  let last = 0;
  const render = (done: number, final: boolean): void => {
    const seconds = (Date.now() - started) / 1000;
    const rate = done / Math.max(seconds, 1e-3);
    const eta = rate > 0 ? (total - done) / rate : Infinity;
    const line = `${label}: ${done}/${total} (${rate.toFixed(1)}/s, ETA ${formatSeconds(eta)})`;
    stream.write(`\r${line}\x1b[K${final ? '\n' : ''}`);
  };
  return {
    tick(done: number) {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 200 && done < total) return;
      last = now;
      render(done, false);
    },
    finish() {
      if (enabled) render(total, true);
    },
  };
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
