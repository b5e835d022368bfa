/**
 * Prometheus text exposition (format 0.0.4) for NMSlite's own health: a tiny writer, not a
 * client library — the values live where they are measured and are read at scrape time.
 */
export type Labels = Record<string, string | number>;

export class PrometheusText {
  private readonly lines: string[] = [];

  counter(name: string, help: string, samples: [Labels, number][] | number): this {
    return this.family(name, help, "counter", samples);
  }

  gauge(name: string, help: string, samples: [Labels, number][] | number): this {
    return this.family(name, help, "gauge", samples);
  }

  /** `buckets` maps an upper bound ("+Inf" included) to a non-cumulative count. */
  histogram(
    name: string,
    help: string,
    buckets: Record<string, number>,
    sum: number,
    labels: Labels = {},
  ): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    const bounds = Object.keys(buckets).filter((b) => b !== "+Inf").map(Number).sort((a, b) =>
      a - b
    );
    let cumulative = 0;
    for (const bound of bounds) {
      cumulative += buckets[String(bound)] ?? 0;
      this.lines.push(`${name}_bucket${fmt({ ...labels, le: bound })} ${cumulative}`);
    }
    cumulative += buckets["+Inf"] ?? 0;
    this.lines.push(`${name}_bucket${fmt({ ...labels, le: "+Inf" })} ${cumulative}`);
    this.lines.push(
      `${name}_sum${fmt(labels)} ${sum}`,
      `${name}_count${fmt(labels)} ${cumulative}`,
    );
    return this;
  }

  toString(): string {
    return this.lines.join("\n") + "\n";
  }

  private family(
    name: string,
    help: string,
    type: string,
    samples: [Labels, number][] | number,
  ): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const list = typeof samples === "number" ? [[{}, samples] as [Labels, number]] : samples;
    for (const [labels, value] of list) this.lines.push(`${name}${fmt(labels)} ${num(value)}`);
    return this;
  }
}

/** A label value in the exposition format: backslash, double quote and newline escaped. */
function escapeLabel(v: unknown): string {
  return String(v).replace(/[\\\n\x22]/g, (c) => c === "\n" ? "\\n" : "\\" + c);
}

function fmt(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return "{" + entries.map(([k, v]) => k + "=\x22" + escapeLabel(v) + "\x22").join(",") + "}";
}

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
