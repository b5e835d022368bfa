/** Formatting shared by pages and islands (pure functions, no DOM). */
export function fmtPercent(v: number | null | undefined): string {
  return v === null || v === undefined ? "–" : `${v.toFixed(1)} %`;
}

export function fmtBytes(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function fmtBps(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  const units = ["B/s", "KB/s", "MB/s", "GB/s"];
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function fmtTime(v: string | Date | null | undefined): string {
  if (!v) return "never";
  const d = new Date(v);
  return d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}
