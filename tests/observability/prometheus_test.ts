/** The exposition writer: label values escaped as the text format 0.0.4 requires. */
import { assertEquals } from "../helpers/assert.ts";
import { PrometheusText } from "../../lib/observability/prometheus.ts";

Deno.test("prometheus text: labels escaped (backslash, quote, newline), histograms cumulative", () => {
  const out = new PrometheusText()
    .counter("x_total", "X", [[{ path: 'C:\\dir "a"\nb', code: 7 }, 3]])
    .histogram("h", "H", { "0.1": 1, "1": 2, "+Inf": 1 }, 4.5, { kind: "q" })
    .toString();
  assertEquals(out.split("\n"), [
    "# HELP x_total X",
    "# TYPE x_total counter",
    'x_total{path="C:\\\\dir \\"a\\"\\nb",code="7"} 3',
    "# HELP h H",
    "# TYPE h histogram",
    'h_bucket{kind="q",le="0.1"} 1',
    'h_bucket{kind="q",le="1"} 3',
    'h_bucket{kind="q",le="+Inf"} 4',
    'h_sum{kind="q"} 4.5',
    'h_count{kind="q"} 4',
    "",
  ]);
});
