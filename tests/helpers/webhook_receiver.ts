/**
 * A webhook receiver for tests: a real HTTP server on a loopback port that records every
 * request, checks the HMAC signature with Web Crypto (independently of the sender's
 * node:crypto) and counts deliveries per idempotency key. `respond` picks the answer.
 */
import { freePort } from "./ports.ts";

export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: Headers;
  body: string;
  /** null when the request carried no signature, else whether it verified */
  signatureValid: boolean | null;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** deliveries per Idempotency-Key */
  byKey: Map<string, number>;
  respond: (req: ReceivedWebhook) => Response | Promise<Response>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(hmacSecret?: string): Promise<WebhookReceiver> {
  const port = await freePort();
  const key = hmacSecret
    ? await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(hmacSecret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    )
    : null;
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}`,
    port,
    received: [],
    byKey: new Map(),
    respond: () => new Response("ok"),
    close: async () => await server.shutdown(),
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen() {} },
    async (req) => {
      const body = await req.text();
      const signature = req.headers.get("x-nmslite-signature");
      const timestamp = req.headers.get("x-nmslite-timestamp") ?? "";
      let signatureValid: boolean | null = null;
      if (signature) {
        signatureValid = key !== null && signature.startsWith("sha256=") &&
          await crypto.subtle.verify(
            "HMAC",
            key,
            hexBytes(signature.slice(7)),
            new TextEncoder().encode(`${timestamp}.${body}`),
          );
      }
      const got: ReceivedWebhook = {
        method: req.method,
        path: new URL(req.url).pathname,
        headers: req.headers,
        body,
        signatureValid,
      };
      receiver.received.push(got);
      const idem = req.headers.get("idempotency-key");
      if (idem) receiver.byKey.set(idem, (receiver.byKey.get(idem) ?? 0) + 1);
      return await receiver.respond(got);
    },
  );
  return receiver;
}

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
