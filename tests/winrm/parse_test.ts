/** WS-Man response parsing on Windows response shapes (tests/fixtures/wsman). */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  asArray,
  enumerationBatch,
  faultOf,
  getItem,
  numProp,
  parseEnvelope,
  prop,
  strProp,
  xmlTree,
} from "../../lib/winrm/parse.ts";
import { EnvelopeBuilder, wmiResourceUri } from "../../lib/winrm/envelope.ts";
import { ProtocolError } from "../../lib/winrm/errors.ts";
import { MAX_DEPTH } from "../../lib/winrm/xml_scan.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`../fixtures/wsman/${name}`, import.meta.url));
const batchOf = (name: string) => enumerationBatch(parseEnvelope(fixture(name)).body);

Deno.test("SELECT * form: p:Win32_X items, nil, datetime, arrays, end of sequence", () => {
  const b = batchOf("os_star.xml");
  assertEquals(b.endOfSequence, true);
  assertEquals(b.context, null);
  assertEquals(b.items.length, 1);
  const os = b.items[0];
  assertEquals(os.BuildNumber, 7601);
  assertEquals(strProp(os, "buildnumber"), "7601");
  assertEquals(os.Caption, "Microsoft Windows Server 2008 R2 Datacenter");
  assertEquals(os.OtherTypeDescription, null);
  assertEquals(os.Primary, true);
  assertEquals(os.BootDevice, "\\Device\\HarddiskVolume1");
  assertEquals(os.SerialNumber, "00496-001-0001283-84004");
  assertEquals(os.MUILanguages, ["en-US", "de-DE"]);
  assert(os.LastBootUpTime instanceof Date);
  assertEquals((os.LastBootUpTime as Date).toISOString(), "2013-04-10T16:17:23.500Z");
  assertEquals(numProp(os, "TOTALVISIBLEMEMORYSIZE"), 629368);
  assertEquals(numProp(os, "freephysicalmemory"), 273776);
  assertEquals(prop(os, "NoSuchProperty"), undefined);
  assert(!("type" in os) && !("@type" in os), "attributes are not properties");
});

Deno.test("projected form: unqualified properties inside w:XmlFragment", () => {
  const b = batchOf("os_fragment.xml");
  assertEquals(b.items.length, 1);
  const os = b.items[0];
  assertEquals(os.CSName, "WIN-SRV01");
  assertEquals(os.Version, "10.0.17763");
  assertEquals(os.OtherTypeDescription, null);
  assertEquals(numProp(os, "TotalVisibleMemorySize"), 16776692);
  assertEquals((os.LastBootUpTime as Date).toISOString(), "2024-02-29T13:15:00.123Z");
});

Deno.test("multi-batch: EnumerateResponse with a context, then PullResponse with n:Items", () => {
  const first = batchOf("net_enumerate_000.xml");
  assertEquals(first.endOfSequence, false);
  assertEquals(first.context, "uuid:9D03AB9F-B0B1-444B-B312-B4B426713B98");
  assertEquals(first.items.length, 2);
  const nic = first.items[0];
  // live WMI casing is "Persec"; lookups are case-insensitive
  assertEquals(numProp(nic, "BytesReceivedPerSec"), 3897382829);
  assertEquals(nic.Caption, null);
  // 64-bit values beyond 2^53 stay exact
  assertEquals(nic.BytesTotalPersec, 18446744073709551615n);
  assertEquals(strProp(nic, "BytesTotalPersec"), "18446744073709551615");
  assertEquals(nic.Timestamp_Sys100NS, 130104287932030000n);
  const last = batchOf("net_pull_001.xml");
  assertEquals(last.endOfSequence, true);
  assertEquals(last.context, null);
  assertEquals(last.items.map((i) => i.Name), ["Teredo Tunneling Pseudo-Interface"]);
});

Deno.test("arrays: repeated elements; a nil array is null", () => {
  const b = batchOf("nic_config_arrays.xml");
  assertEquals(b.items.length, 2);
  assertEquals(b.items[0].IPAddress, ["10.0.0.15", "fe80::1c2d:3e4f:5a6b:7c8d"]);
  assertEquals(b.items[0].IPSubnet, ["255.255.255.0", 64]);
  assertEquals(asArray(b.items[0].DefaultIPGateway), ["10.0.0.1"]);
  assertEquals(b.items[1].IPAddress, null);
  assertEquals(asArray(b.items[1].IPAddress), []);
  assertEquals(b.items[1].IPEnabled, false);
});

Deno.test("Get response: the bare instance; exact uint64; empty string", () => {
  const disk = getItem(parseEnvelope(fixture("get_logicaldisk.xml")).body);
  assertEquals(disk.DeviceID, "C:");
  assertEquals(disk.DriveType, 3);
  assertEquals(disk.FreeSpace, 9007199254740993n);
  assertEquals(disk.Size, 128849014784);
  assertEquals(disk.VolumeName, "");
  assertEquals(disk.VolumeSerialNumber, "0A1B2C3D");
});

Deno.test("faults: unknown class (nested ProviderFault) and TimedOut", () => {
  const f = faultOf(parseEnvelope(fixture("fault_unknown_class.xml")).body)!;
  assertEquals(f.code, "s:Sender");
  assertEquals(f.subcode, "n:CannotProcessFilter");
  assertEquals(f.wsmanFaultCode, 2150858778);
  assertEquals(f.reason, "The specified class does not exist in the given namespace.");
  assertEquals(f.machine, "WIN-SRV01");
  const t = faultOf(parseEnvelope(fixture("fault_timedout.xml")).body)!;
  assertEquals(t.subcode, "w:TimedOut");
  assertEquals(t.code, "s:Receiver");
  assertEquals(t.wsmanFaultCode, 2150858793);
  assert(t.reason.includes("OperationTimeout"));
  assertEquals(faultOf(parseEnvelope(fixture("os_star.xml")).body), null);
});

Deno.test("garbage and truncated XML are ProtocolErrors", () => {
  const xml = fixture("os_star.xml");
  assertThrows(() => parseEnvelope(xml.slice(0, xml.length / 2)), ProtocolError);
  assertThrows(() => parseEnvelope("<html><body>Bad gateway</body></html>"), ProtocolError);
  assertThrows(() => parseEnvelope(""), ProtocolError, "empty");
  assertThrows(
    () => parseEnvelope('<s:Envelope xmlns:s="x"><s:Header/></s:Envelope>'),
    ProtocolError,
    "not a SOAP envelope",
  );
  assertThrows(
    () => enumerationBatch(parseEnvelope(fixture("get_logicaldisk.xml")).body),
    ProtocolError,
  );
});

Deno.test("envelopes: headers per MS-WSMV, WQL escaped, selectors", () => {
  const b = new EnvelopeBuilder({
    to: "https://10.0.0.5:5986/wsman",
    operationTimeoutS: 20,
    maxEnvelopeSize: 153600,
    locale: "en-US",
  });
  const uri = wmiResourceUri("root\\cimv2");
  assertEquals(uri, "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/*");
  const e = b.enumerate(uri, "SELECT Name FROM Win32_Service WHERE Name<>'a&b'", 7);
  assert(/^uuid:[0-9a-f-]{36}$/.test(e.messageId));
  for (
    const part of [
      `<a:MessageID>${e.messageId}</a:MessageID>`,
      '<a:Address s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address>',
      "<w:OperationTimeout>PT20S</w:OperationTimeout>",
      '<w:MaxEnvelopeSize s:mustUnderstand="true">153600</w:MaxEnvelopeSize>',
      '<w:Locale xml:lang="en-US" s:mustUnderstand="false"/>',
      `<w:ResourceURI s:mustUnderstand="true">${uri}</w:ResourceURI>`,
      '<a:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate</a:Action>',
      "<w:OptimizeEnumeration/><w:MaxElements>7</w:MaxElements>",
      "WHERE Name&lt;&gt;&apos;a&amp;b&apos;</w:Filter>",
    ]
  ) assert(e.xml.includes(part), `envelope lacks ${part}`);
  assert(b.enumerate(uri, "x", 1).messageId !== e.messageId, "fresh MessageID per request");
  const g = b.get(wmiResourceUri("root/cimv2", "Win32_LogicalDisk"), { DeviceID: "C:" });
  assert(
    g.xml.includes('<w:SelectorSet><w:Selector Name="DeviceID">C:</w:Selector></w:SelectorSet>'),
  );
  assert(g.xml.includes("<s:Body></s:Body>"));
  const p = b.pull(uri, "uuid:ABC", 5);
  assert(p.xml.includes("<n:Pull><n:EnumerationContext>uuid:ABC</n:EnumerationContext>"));
  // the envelope we build parses as a SOAP envelope
  parseEnvelope(p.xml);
});

Deno.test("the fast scanner builds the same tree as fast-xml-parser", () => {
  const docs = [...Deno.readDirSync(new URL("../fixtures/wsman/", import.meta.url))]
    .filter((e) => e.name.endsWith(".xml"))
    .map((e) => fixture(e.name));
  docs.push(
    '<?xml version="1.0" encoding="utf-8"?><!-- c --><s:E xmlns:s="u" xml:lang="en-US">' +
      '<a:T x="1&amp;2" y=\'q"uote\' z="a>b">t &lt;&gt; &quot;</a:T>' +
      "<E2/><E2>x</E2><E2 k='v'/><M>  <![CDATA[<raw>]]>  </M><N><O>1</O>tail</N></s:E>",
    // whitespace inside tags, around '=', before '/>' and '>'; prefixed and bare end tags
    '<p:R\n  xmlns:p="u"\ta = "1"\r\n p:b=\'2\' ><p:S >x</p:S\n><T c="3" /><U /><p:V></p:V ></p:R >',
    // names that share a suffix with their parent or a prefix with their siblings
    "<a:Item><a:ItemName>n</a:ItemName><b:Item2>2</b:Item2><Itemx/></a:Item>",
  );
  assert(docs.length >= 9);
  for (const xml of docs) assertEquals(xmlTree(xml), xmlTree(xml, "fast-xml-parser"));
  // numeric character references are XML; fast-xml-parser leaves them undecoded
  assertEquals(xmlTree("<a>&#x41;&#66;&#233;</a>"), { a: "ABé" });
  for (
    const bad of [
      "<a><b></a>",
      "<a>",
      "<a></a><b></b>",
      "<a x='1></a>",
      "text",
      "<p:a></q:b>",
      "<a></xa>",
      "<a></:a>",
      "<a x=1></a>",
      "<a x></a>",
    ]
  ) {
    assertThrows(() => xmlTree(bad));
  }
});

Deno.test("a response nested deeper than any WS-Man answer is a ProtocolError, not a stack overflow", () => {
  const envelope = (inner: string, doctype = "") =>
    `${doctype}<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` +
    `<n:EnumerateResponse xmlns:n="x"><w:Items xmlns:w="y">${inner}</w:Items>` +
    `<w:EndOfSequence/></n:EnumerateResponse></s:Body></s:Envelope>`;
  const nested = (depth: number) => "<p:A>".repeat(depth) + "1" + "</p:A>".repeat(depth);
  // at the bound: read as usual (the envelope's own 5 levels count)
  const deepest = enumerationBatch(parseEnvelope(envelope(nested(MAX_DEPTH - 5))).body);
  assertEquals(deepest.items.length, 1);
  for (const depth of [MAX_DEPTH, 10_000]) {
    assertThrows(
      () => enumerationBatch(parseEnvelope(envelope(nested(depth))).body),
      ProtocolError,
      "nested deeper than",
    );
  }
  // the fallback parser (a DOCTYPE) refuses it as well
  assertThrows(
    () => enumerationBatch(parseEnvelope(envelope(nested(10_000), "<!DOCTYPE x>")).body),
    ProtocolError,
  );
});
