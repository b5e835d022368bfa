/**
 * A minimal cmd shell (Create / Command / Receive / Signal / Delete) so run_cmd-style clients
 * work: it knows `hostname`, `echo` and `ver`; anything else fails like cmd.exe does.
 */
import type { FaultName } from "./faults.ts";
import type { HostState } from "./hosts.ts";
import { ACTION, attribute, elementText, findElement, selectors, textContent } from "./xml.ts";

const SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd";
const DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done";
const MAX_SHELLS = 64;

interface Command {
  stdout: string;
  stderr: string;
  exitCode: number;
}
type Shell = Map<string, Command>;

const shellsByHost = new WeakMap<HostState, Map<string, Shell>>();

export function isShellAction(action: string, resourceUri: string): boolean {
  if (action === ACTION.command || action === ACTION.receive || action === ACTION.signal) {
    return true;
  }
  return (action === ACTION.create || action === ACTION.delete) &&
    resourceUri.toLowerCase() === SHELL_URI;
}

export type ShellResult = { action: string; body: string } | { fault: FaultName };

export function handleShell(
  host: HostState,
  action: string,
  xml: string,
  body: string,
): ShellResult {
  let shells = shellsByHost.get(host);
  if (!shells) shellsByHost.set(host, shells = new Map());
  if (action === ACTION.create) {
    if (shells.size >= MAX_SHELLS) shells.delete(shells.keys().next().value!);
    const id = crypto.randomUUID().toUpperCase();
    shells.set(id, new Map());
    return {
      action: ACTION.create + "Response",
      body: `<x:ResourceCreated><a:Address>http://${host.ip}:5985/wsman</a:Address>` +
        `<a:ReferenceParameters><w:ResourceURI>${SHELL_URI}</w:ResourceURI><w:SelectorSet>` +
        `<w:Selector Name="ShellId">${id}</w:Selector></w:SelectorSet></a:ReferenceParameters>` +
        `</x:ResourceCreated>`,
    };
  }
  const shellId = selectors(xml).get("shellid") ?? "";
  const shell = shells.get(shellId);
  if (!shell) return { fault: "invalidSelectors" };
  switch (action) {
    case ACTION.delete:
      shells.delete(shellId);
      return { action: ACTION.delete + "Response", body: "" };
    case ACTION.command: {
      const id = crypto.randomUUID().toUpperCase();
      const args = [...body.matchAll(/<(?:[\w.-]+:)?Arguments>([\s\S]*?)<\//g)].map((m) => m[1]);
      shell.set(id, run(host, elementText(body, "Command") ?? "", args));
      return {
        action: ACTION.command + "Response",
        body: `<rsp:CommandResponse><rsp:CommandId>${id}</rsp:CommandId></rsp:CommandResponse>`,
      };
    }
    case ACTION.receive: {
      const id = attribute(findElement(body, "DesiredStream")?.attrs ?? "", "CommandId") ?? "";
      const cmd = shell.get(id);
      if (!cmd) return { fault: "invalidSelectors" };
      const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
      const stream = (name: string, data: string) =>
        (data ? `<rsp:Stream Name="${name}" CommandId="${id}">${b64(data)}</rsp:Stream>` : "") +
        `<rsp:Stream Name="${name}" CommandId="${id}" End="true"></rsp:Stream>`;
      return {
        action: ACTION.receive + "Response",
        body: "<rsp:ReceiveResponse>" + stream("stdout", cmd.stdout) +
          stream("stderr", cmd.stderr) + `<rsp:CommandState CommandId="${id}" State="${DONE}">` +
          `<rsp:ExitCode>${cmd.exitCode}</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>`,
      };
    }
    case ACTION.signal: {
      const id = attribute(findElement(body, "Signal")?.attrs ?? "", "CommandId") ?? "";
      shell.delete(id);
      return { action: ACTION.signal + "Response", body: "<rsp:SignalResponse/>" };
    }
  }
  return { fault: "actionNotSupported" };
}

function run(host: HostState, command: string, args: string[]): Command {
  const words = [command, ...args.map(textContent)].join(" ").trim();
  const [verb, ...rest] = words.split(/\s+/);
  switch (verb.toLowerCase()) {
    case "hostname":
      return { stdout: host.profile.name + "\r\n", stderr: "", exitCode: 0 };
    case "echo":
      return { stdout: rest.join(" ") + "\r\n", stderr: "", exitCode: 0 };
    case "ver":
      return {
        stdout: `\r\nMicrosoft Windows [Version ${host.profile.os.version}]\r\n`,
        stderr: "",
        exitCode: 0,
      };
  }
  return {
    stdout: "",
    stderr: `'${verb}' is not recognized as an internal or external command,\r\n` +
      "operable program or batch file.\r\n",
    exitCode: 1,
  };
}
