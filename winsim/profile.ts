/**
 * A simulated host's fixed facts, derived from its address so every run (and every process)
 * sees the same host, and time-varying signals that are pure functions of (seed, time) so
 * two polls a second apart differ but a host never jumps randomly.
 */
export interface NicProfile {
  name: string;
  bandwidth: number;
  /** typical received bytes/s */
  rxRate: number;
}

export interface HostProfile {
  ip: string;
  seed: number;
  name: string;
  domain: string | null;
  os: { caption: string; version: string; build: string };
  cpus: number;
  memoryKB: number;
  bootMs: number;
  /** a reboot asked for through Winsim.reboot(); see bootAt() */
  rebootedAt?: number;
  /** start of an event-log flood asked for through Winsim.eventFlood() */
  floodFrom?: number;
  installMs: number;
  serial: string;
  manufacturer: string;
  model: string;
  disks: { c: number; d: number };
  nics: NicProfile[];
  /** used share (0..1) of a fixed volume set from outside (Winsim.setVolumeUsed): no drift */
  volumeUsed?: Record<string, number>;
  /** no planned reboots and no disk latency spikes (Winsim.steady) */
  steady?: boolean;
}

/** FNV-1a, enough to spread addresses over seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ (b + 0x9e3779b9), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Deterministic value in [0, 1) for (seed, salt). */
export function unit(seed: number, salt: number): number {
  return mix(seed, salt) / 0x1_0000_0000;
}

function pick<T>(seed: number, salt: number, list: readonly T[]): T {
  return list[Math.floor(unit(seed, salt) * list.length)];
}

/**
 * A smooth-ish signal in [0, 1]: a slow sine with a per-host phase plus a noise term that
 * changes every 5 s. Salt separates independent signals of one host.
 */
export function signal(seed: number, salt: number, nowMs: number, periodS = 600): number {
  const t = nowMs / 1000;
  const phase = unit(seed, salt) * 2 * Math.PI;
  const slow = Math.sin((2 * Math.PI * t) / periodS + phase);
  const noise = unit(mix(seed, salt), Math.floor(t / 5)) * 2 - 1;
  return Math.min(1, Math.max(0, 0.5 + 0.35 * slow + 0.15 * noise));
}

const OSES = [
  { caption: "Microsoft Windows Server 2016 Standard ", version: "10.0.14393", build: "14393" },
  { caption: "Microsoft Windows Server 2019 Standard ", version: "10.0.17763", build: "17763" },
  { caption: "Microsoft Windows Server 2019 Datacenter ", version: "10.0.17763", build: "17763" },
  { caption: "Microsoft Windows Server 2022 Standard ", version: "10.0.20348", build: "20348" },
  { caption: "Microsoft Windows Server 2012 R2 Standard ", version: "6.3.9600", build: "9600" },
] as const;

const HARDWARE = [
  {
    manufacturer: "VMware, Inc.",
    model: "VMware Virtual Platform",
    nic: "vmxnet3 Ethernet Adapter",
  },
  {
    manufacturer: "Microsoft Corporation",
    model: "Virtual Machine",
    nic: "Microsoft Hyper-V Network Adapter",
  },
  {
    manufacturer: "Dell Inc.",
    model: "PowerEdge R640",
    nic: "Intel[R] Ethernet Controller X710 for 10GbE SFP+",
  },
] as const;

const GB = 1024 ** 3;
const DAY = 86_400_000;
/** Process start: boot times are relative to it so uptimes look plausible in any year. */
const EPOCH = Date.now();

export function hostProfile(ip: string, index: number): HostProfile {
  const seed = hashString(ip);
  const hw = pick(seed, 2, HARDWARE);
  const memGB = pick(seed, 3, [4, 8, 16, 32, 64] as const);
  const secondNic = hw.model === "PowerEdge R640"
    ? "Intel[R] Ethernet Controller X710 for 10GbE SFP+ _2"
    : `${hw.nic} _2`;
  const domainJoined = unit(seed, 4) < 0.6;
  return {
    ip,
    seed,
    name: `WINSIM-${String(index + 1).padStart(4, "0")}`,
    domain: domainJoined ? "corp.example.com" : null,
    os: pick(seed, 1, OSES),
    cpus: pick(seed, 5, [2, 4, 8, 16] as const),
    // Windows reserves a little memory for firmware/hardware, so "visible" < installed.
    memoryKB: memGB * 1024 * 1024 - 16_384 - Math.floor(unit(seed, 6) * 64) * 1024,
    bootMs: Math.floor((EPOCH - DAY * (1 + unit(seed, 7) * 90)) / 1000) * 1000 + 500,
    installMs: Math.floor((EPOCH - DAY * (200 + unit(seed, 8) * 900)) / 1000) * 1000,
    serial: serialNumber(hw.manufacturer, seed, index),
    manufacturer: hw.manufacturer,
    model: hw.model,
    disks: {
      c: Math.round((80 + unit(seed, 9) * 420) * GB / 4096) * 4096,
      d: Math.round((500 + unit(seed, 10) * 3500) * GB / 4096) * 4096,
    },
    nics: [
      {
        name: hw.nic,
        bandwidth: hw.model === "PowerEdge R640" ? 10_000_000_000 : 1_000_000_000,
        rxRate: 200_000 + unit(seed, 11) * 5_000_000,
      },
      { name: secondNic, bandwidth: 1_000_000_000, rxRate: 2_000 + unit(seed, 12) * 50_000 },
    ],
  };
}

/** Serial numbers in the shape each vendor uses, unique per host. */
function serialNumber(manufacturer: string, seed: number, index: number): string {
  if (manufacturer === "Dell Inc.") {
    return (seed.toString(36).toUpperCase() + "0000000").slice(0, 5) +
      (index + 1).toString(36).toUpperCase().padStart(2, "0");
  }
  if (manufacturer === "VMware, Inc.") {
    const b = Array.from(
      { length: 16 },
      (_, i) =>
        (((seed >>> ((i % 4) * 8)) ^ (index * 31 + i * 17)) & 255).toString(16).padStart(2, "0"),
    );
    return `VMware-${b.slice(0, 8).join(" ")}-${b.slice(8).join(" ")}`;
  }
  return `${String(seed % 10000).padStart(4, "0")}-${String(index + 1).padStart(4, "0")}-` +
    `${String((seed >>> 8) % 10000).padStart(4, "0")}-0000-0000-00`;
}

const REBOOT_PERIOD_MS = 6 * 3_600_000;

/**
 * The host's last boot at `now`: its profile's boot time, a reboot asked for (Winsim.reboot)
 * or, for about one host in ten, the scheduled restart every 6 hours (a patch window).
 */
export function bootAt(h: HostProfile, now: number): number {
  let boot = h.bootMs;
  if (h.rebootedAt !== undefined && h.rebootedAt <= now) boot = Math.max(boot, h.rebootedAt);
  if (!h.steady && unit(h.seed, 90) < 0.1) {
    const phase = Math.floor(unit(h.seed, 91) * REBOOT_PERIOD_MS);
    const last = Math.floor((now - phase) / REBOOT_PERIOD_MS) * REBOOT_PERIOD_MS + phase + 500;
    if (last > boot && last <= now) boot = last;
  }
  return boot;
}
