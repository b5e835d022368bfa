/**
 * Runs postman/NMSlite.postman_collection.json with newman against a freshly started NMSlite
 * (own data directory, free loopback port, plain HTTP). Exits non-zero when the server cannot
 * start or any assertion fails. Used by `deno task test`; also runnable on its own:
 *
 *   deno run --allow-all scripts/newman.ts [-- extra newman options]
 */
import { withChildServer } from "./child_server.ts";

// Pinned here and in deno.lock, so CI on a clean clone runs exactly this newman.
const NEWMAN = "npm:newman@6.2.2";
const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const COLLECTION = `${ROOT}postman/NMSlite.postman_collection.json`;

const args = Deno.args[0] === "--" ? Deno.args.slice(1) : [...Deno.args];

const code = await withChildServer(
  { logLevel: "warning", plugins: { echo: "/bin/echo" } },
  async (server) => {
    console.log(`newman: NMSlite at ${server.url} (plain HTTP, ${server.databaseKind})`);
    const newman = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        // newman's reporter uses the `colors` package, which needs Object.prototype.__proto__.
        "--unsafe-proto",
        NEWMAN,
        "run",
        COLLECTION,
        "--env-var",
        `baseUrl=${server.url}`,
        "--env-var",
        `adminUsername=${server.adminUsername}`,
        "--env-var",
        `adminPassword=${server.adminPassword}`,
        "--reporters",
        "cli",
        "--color",
        "off",
        "--timeout-request",
        "30000",
        ...args,
      ],
      // From the repository root, so deno.json and deno.lock apply to the npm package.
      cwd: ROOT,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return (await newman.status).code;
  },
);

console.log(code === 0 ? "newman: all assertions passed" : `newman: FAILED (exit code ${code})`);
Deno.exit(code === 0 ? 0 : 1);
