/**
 * The shapes of the metric catalogue (lib/alerting/catalogue.ts), apart from it so that the
 * depth metrics (depth_metrics.ts), which the catalogue lists, can name them without a circle.
 */

/** percent 0..100; bytes, count and intervals whole and ≥ 0; rate and ms ≥ 0. */
export type ThresholdKind = "percent" | "bytes" | "rate" | "count" | "ms" | "state" | "intervals";

/** Where a metric's values come from: a committed sample, a poll outcome, a state, a timer. */
export type MetricSource = "sample" | "outcome" | "state" | "timer";

export interface MetricDefinition {
  name: string;
  label: string;
  unit: string;
  kind: ThresholdKind;
  source: MetricSource;
  /** one problem per volume, interface, service, process or event source */
  per: "device" | "volume" | "interface" | "service" | "process" | "source";
}

/** One value of a sample-fed metric: the instance ("" for the device) and the number. */
export interface InstanceValue {
  instance: string;
  value: number;
}
