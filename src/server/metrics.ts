// A compact Prometheus registry: counters, gauges and histograms with labels, rendered in
// the text exposition format (version 0.0.4). prom-client is not a dependency and the
// service needs only these three types, so ~100 lines here beat a new package.

type Labels = Record<string, string>;

interface Metric {
  render(): string[];
}

function labelText(labels: Labels, extra?: Labels): string {
  const all = { ...labels, ...extra };
  const keys = Object.keys(all);
  if (keys.length === 0) return '';
  const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `{${keys.map((k) => `${k}="${escape(all[k]!)}"`).join(',')}}`;
}

function keyOf(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Number.isFinite(value) ? String(value) : 'NaN';
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = keyOf(labels);
    const entry = this.values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }

  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${formatNumber(value)}`);
    return lines;
  }
}

/** A gauge read when scraped, so it can never go stale. */
export class Gauge implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}

  render(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${formatNumber(this.read())}`];
  }
}

/** An info metric: one series whose labels (read when scraped) say what is running, value 1. */
export class Info implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => Labels) {}

  render(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name}${labelText(this.read())} 1`];
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}

  observe(value: number, labels: Labels = {}): void {
    const key = keyOf(labels);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, entry);
    }
    // Buckets are cumulative in the exposition format; counted per bucket here, summed on render.
    const index = this.buckets.findIndex((upper) => value <= upper);
    if (index >= 0) entry.counts[index]!++;
    entry.sum += value;
    entry.count++;
  }

  count(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.count ?? 0;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((upper, i) => {
        cumulative += counts[i]!;
        lines.push(`${this.name}_bucket${labelText(labels, { le: formatNumber(upper) })} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${labelText(labels, { le: '+Inf' })} ${count}`);
      lines.push(`${this.name}_sum${labelText(labels)} ${formatNumber(sum)}`);
      lines.push(`${this.name}_count${labelText(labels)} ${count}`);
    }
    return lines;
  }
}

/** One labelled value of a metric read when scraped. */
export interface Sample {
  labels: Labels;
  value: number;
}

/**
 * A metric whose values are read (asynchronously) at each scrape, e.g. counted from the
 * catalog: never stale, and the same on every server sharing the catalog.
 */
class CollectedMetric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter',
    private readonly collect: () => Promise<Sample[]>,
  ) {}

  async render(): Promise<string[]> {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    try {
      for (const { labels, value } of await this.collect()) lines.push(`${this.name}${labelText(labels)} ${formatNumber(value)}`);
    } catch (error) {
      // One source that cannot be read must not cost the scrape the other metrics.
      lines.push(`# ${this.name} not collected: ${String((error as Error).message ?? error).replace(/\n/g, ' ')}`);
    }
    return lines;
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  private readonly collectedMetrics: CollectedMetric[] = [];

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  gauge(name: string, help: string, read: () => number): Gauge {
    return this.add(new Gauge(name, help, read));
  }

  info(name: string, help: string, read: () => Labels): Info {
    return this.add(new Info(name, help, read));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, [...buckets].sort((a, b) => a - b)));
  }

  render(): string {
    return `${this.metrics.flatMap((m) => m.render()).join('\n')}\n`;
  }

  /** A metric read when scraped (`scrape()`; `render()` leaves it out). */
  collected(name: string, help: string, type: 'gauge' | 'counter', collect: () => Promise<Sample[]>): void {
    this.collectedMetrics.push(new CollectedMetric(name, help, type, collect));
  }

  /** What /metrics answers: every metric, those read when scraped included. */
  async scrape(): Promise<string> {
    const collected = await Promise.all(this.collectedMetrics.map((m) => m.render()));
    return `${[...this.metrics.flatMap((m) => m.render()), ...collected.flat()].join('\n')}\n`;
  }

  private add<T extends Metric>(metric: T): T {
    this.metrics.push(metric);
    return metric;
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The service's metrics; the inference queue and the HTTP hooks write to them. */
export interface ServiceMetrics {
  registry: Registry;
  requestDuration: Histogram;
  errors: Counter;
  batchSize: Histogram;
  batchDuration: Histogram;
  rejected: Counter;
  /** Search requests refused by the search admission gate (src/server/search-admission.ts). */
  searchRejected: Counter;
}

export function createServiceMetrics(): ServiceMetrics {
  const registry = new Registry();
  return {
    registry,
    requestDuration: registry.histogram(
      'groknet_http_request_duration_seconds',
      'HTTP request latency by method, route and status',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
    errors: registry.counter('groknet_http_errors_total', 'Error responses by error code'),
    batchSize: registry.histogram('groknet_inference_batch_size', 'Images per analyzer run', [1, 2, 4, 8, 16, 32, 64, 128, 256]),
    batchDuration: registry.histogram(
      'groknet_inference_batch_duration_seconds',
      'Time of one analyzer run',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    rejected: registry.counter('groknet_inference_rejected_total', 'Inference requests refused or abandoned, by reason'),
    searchRejected: registry.counter('groknet_search_rejected_total', 'Search requests refused by admission control, by reason'),
  };
}
