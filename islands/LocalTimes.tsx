/**
 * Turns every <Time> of the page (components/Time.tsx) into the browser's local time and keeps
 * its "ago" current. Pages whose times are server-rendered outside an island include it; times
 * inside islands are local from hydration on, and this only refreshes their "ago".
 *
 * It writes the existing text node (never replaces it), so an island that owns the element
 * keeps updating the same node.
 */
import { useEffect } from "preact/hooks";
import { timeText } from "../components/Time.tsx";

const REFRESH_MS = 15_000;

export function localizeTimes(root: ParentNode = document): void {
  const now = Date.now();
  for (const el of root.querySelectorAll<HTMLTimeElement>("time[data-local]")) {
    const text = timeText(el.dateTime, el.dataset.local === "plain", now);
    const node = el.firstChild;
    if (node instanceof Text && el.childNodes.length === 1) {
      if (node.data !== text) node.data = text;
    } else if (!node) {
      el.append(text);
    }
  }
}

export default function LocalTimes(_props: Record<string, never>) {
  useEffect(() => {
    localizeTimes();
    const timer = setInterval(() => localizeTimes(), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  return null;
}
