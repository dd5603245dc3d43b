// One autocannon phase against a running server: requests, rate, latency percentiles,
// statuses, Retry-After on every 429, and the server's RSS over the phase (warm vs end).
// Shared by the load harness (scripts/reliability/load.ts) and the HTTP benchmark (bench/http.ts).
import { createRequire } from 'node:module';
import { round, type RssSeries } from './common.ts';

interface Histogram {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
  statusCodeStats: Record<string, { count: number }>;
}
export interface AutocannonRequest {
  method?: string;
  path?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  onResponse?: (status: number, body: string, context: unknown, headers: Record<string, string>) => void;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  timeout: number;
  requests: AutocannonRequest[];
}) => Promise<AutocannonResult>;
export const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface PhaseResult {
  name: string;
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  status: Record<string, number>;
  errors: number;
  timeouts: number;
  retryAfterMissing: number;
  retryAfterValues: number[];
  rssMb: { warm: number; end: number; growthPct: number };
}

function rssWindow(rss: RssSeries, from: number, to: number): { warm: number; end: number; growthPct: number } {
  const inPhase = rss.samples.filter((s) => s.t >= from && s.t <= to).map((s) => s.mb);
  // Warm-up: the first fifth of the phase. Then compare the first and last thirds of the rest.
  const rest = inPhase.slice(Math.floor(inPhase.length / 5));
  const third = Math.max(1, Math.floor(rest.length / 3));
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const warm = mean(rest.slice(0, third));
  const end = mean(rest.slice(-third));
  return { warm: round(warm), end: round(end), growthPct: round(((end - warm) / Math.max(1, warm)) * 100) };
}

export async function phase(name: string, url: string, connections: number, seconds: number, request: AutocannonRequest, rss: RssSeries, t0: number): Promise<PhaseResult> {
  let retryAfterMissing = 0;
  const retryAfterValues = new Set<number>();
  const from = (performance.now() - t0) / 1000;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    // Longer than the server's 30 s inference deadline: a slow answer is measured, not cut off.
    timeout: 45,
    requests: [{
      ...request,
      onResponse: (status, _body, _context, headers) => {
        if (status !== 429) return;
        const value = headers['retry-after'] ?? headers['Retry-After'];
        if (value === undefined || !/^\d+$/.test(String(value))) retryAfterMissing++;
        else retryAfterValues.add(Number(value));
      },
    }],
  });
  const to = (performance.now() - t0) / 1000;
  const status = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, Number(v.count)]));
  return {
    name,
    connections,
    seconds: round(result.duration),
    requests: result.requests.total,
    rps: round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    status,
    errors: result.errors,
    timeouts: result.timeouts,
    retryAfterMissing,
    retryAfterValues: [...retryAfterValues].sort((a, b) => a - b),
    rssMb: rssWindow(rss, from, to),
  };
}
