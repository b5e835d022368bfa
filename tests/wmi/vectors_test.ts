/**
 * Known-answer tests against bytes made by an independent implementation (impacket 0.10.0;
 * tests/fixtures/wmi/*.hex, each file says how it was made). NDR referent ids are random in
 * impacket and alignment pad bytes are filler (0xBF, 0xCE, 0xAA, 0xFA there, 0 here): both
 * are masked, and only those.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  decodeNextReply,
  encodeExecQuery,
  encodeNext,
  encodeNextReply,
  encodeNtlmLogin,
  encodeRemRelease,
} from "../../lib/wmi/calls.ts";
import {
  CLSID,
  decodeCustomObjRef,
  encodeCustomObjRef,
  encodeRemoteCreateInstance,
  IID,
} from "../../lib/wmi/dcom.ts";
import { WmiIntegrityError, WmiProtocolError } from "../../lib/wmi/errors.ts";
import { encodeBind, encodeCall, openCall, parsePdu, PTYPE } from "../../lib/wmi/pdu.ts";
import { RpcSecurity } from "../../lib/wmi/security.ts";
import { CIM, decodeInstance, encodeInstance } from "../../lib/wmi/wmio.ts";

const dir = new URL("../fixtures/wmi/", import.meta.url);

function vector(name: string): Uint8Array {
  const files = [...Deno.readDirSync(dir)].map((e) => e.name);
  const file = files.find((f) => f.startsWith(name));
  if (!file) throw new Error(`no vector ${name}`);
  const hex = Deno.readTextFileSync(new URL(file, dir)).split("\n")
    .filter((l) => !l.startsWith("#")).join("").replace(/\s+/g, "");
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Equal except at the listed [offset, length) ranges (referent ids, pad filler). */
function assertMasked(ours: Uint8Array, theirs: Uint8Array, masks: [number, number][]) {
  assertEquals(ours.length, theirs.length, "length");
  const a = ours.slice();
  const b = theirs.slice();
  for (const [at, n] of masks) {
    a.fill(0, at, at + n);
    b.fill(0, at, at + n);
  }
  assertEquals(hex(a), hex(b));
}

const raw = (h: string) => Uint8Array.from(h.match(/../g)!, (x) => parseInt(x, 16));
/** impacket's causality id, fixed for the vectors (raw bytes, as on the wire) */
const CID = raw("00112233445566778899aabbccddeeff");

Deno.test("01 bind: our bind PDU carrying impacket's NEGOTIATE is byte-identical", () => {
  const v = vector("01_");
  const token = v.subarray(v.length - 32);
  const ours = encodeBind(PTYPE.bind, 1, [{ id: 0, iface: IID.IRemoteSCMActivator }], {
    level: 6,
    contextId: 79231,
    token,
  });
  assertEquals(hex(ours), hex(v));
});

Deno.test("02 RemoteCreateInstance stub matches (referent ids and 0xAA/0xFA filler masked)", () => {
  const v = vector("02_");
  // referent ids: pActProperties, pclsid, pSizes, pIID, remoteRequest, pRequestedProtseqs
  const masks: [number, number][] = [
    [0x24, 4],
    [0x9c, 4],
    [0xa0, 4],
    [0x134, 4],
    [0x1b4, 4],
    [0x1c0, 4],
    [0x1be, 2],
    [0x154, 4],
    [0x1ca, 6],
  ];
  assertMasked(encodeRemoteCreateInstance(CID), v, masks);
});

Deno.test("03 NTLMLogin stub matches (referent id, pad masked)", () => {
  assertMasked(encodeNtlmLogin(CID, "//./root/cimv2"), vector("03_"), [[0x20, 4], [0x4e, 2]]);
});

Deno.test("04 ExecQuery stubs match for lFlags 0 and 0x30 (referent ids masked)", () => {
  const q = "SELECT Caption FROM Win32_OperatingSystem";
  assertMasked(encodeExecQuery(CID, q, 0), vector("04a_"), [[0x20, 4], [0x38, 4]]);
  assertMasked(encodeExecQuery(CID, q, 0x30), vector("04b_"), [[0x20, 4], [0x38, 4]]);
});

Deno.test("05 Next request and 06 RemRelease stubs are byte-identical (but 06's pad)", () => {
  assertEquals(hex(encodeNext(CID, 0xffffffff, 1)), hex(vector("05_")));
  const ipid = raw("0b0c0d0e0f101112131415161718191a");
  assertMasked(encodeRemRelease(CID, [{ ipid, publicRefs: 1 }]), vector("06_"), [[0x22, 2]]);
});

const KEYS = {
  exportedSessionKey: Uint8Array.from({ length: 16 }, (_, i) => i),
  flags: 0xe0888235,
};
const OBJECT = raw("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");

for (const [name, level] of [["07_", 6], ["08_", 5]] as const) {
  Deno.test(`${name} RemRelease request ${level === 6 ? "sealed" : "signed"}: identical PDU`, () => {
    const stub = vector("06_");
    const [pdu] = encodeCall({
      type: PTYPE.request,
      callId: 3,
      contextId: 1,
      opnum: 5,
      object: OBJECT,
      stub,
      maxFrag: 4280,
      security: new RpcSecurity(KEYS, false, level, 79232),
    });
    assertEquals(hex(pdu), hex(vector(name)));
    // and the server side opens it, recovering the stub
    const server = new RpcSecurity(KEYS, true, level, 79232);
    const frag = openCall(parsePdu(pdu.slice()), server);
    assertEquals(hex(frag.stub), hex(stub));
  });
}

Deno.test("07 a tampered sealed PDU is refused by its signature", () => {
  const v = vector("07_").slice();
  v[60] ^= 1;
  assertThrows(
    () => openCall(parsePdu(v), new RpcSecurity(KEYS, true, 6, 79232)),
    WmiIntegrityError,
  );
});

Deno.test("09/10 the synthetic Win32_OperatingSystem decodes to impacket's values", () => {
  const objref = vector("09_");
  const inst = decodeInstance(decodeCustomObjRef(objref).data);
  assertEquals(inst.className, "Win32_OperatingSystem");
  const got = Object.fromEntries(inst.properties.map((p) => [p.name, p.value]));
  assertEquals(got, {
    Caption: "Microsoft Windows Server 2022 Standard",
    Version: "10.0.20348",
    BuildNumber: "20348",
    FreePhysicalMemory: 8388608123,
    NumberOfProcesses: 123,
    LastBootUpTime: "20240102030405.500000+060",
    Primary: true,
    RegisteredUser: "Администратор",
    Description: null,
  });
  const types = Object.fromEntries(inst.properties.map((p) => [p.name, p.type]));
  assertEquals(types.FreePhysicalMemory, CIM.uint64);
  const next = decodeNextReply(vector("10_"));
  assertEquals(next.hr, 0);
  assertEquals(hex(next.objects[0]), hex(objref));
  const end = decodeNextReply(vector("11_"));
  assertEquals([end.objects.length, end.hr], [0, 1]);
});

Deno.test("10/11 our Next replies match impacket's bytes (referent ids masked)", () => {
  const objref = vector("09_");
  assertMasked(encodeNextReply([objref], 1, 0), vector("10_"), [[20, 4]]);
  assertEquals(hex(encodeNextReply([], 1, 1)), hex(vector("11_")));
});

Deno.test("our encoder round-trips every CIM type the collector uses", () => {
  const props = [
    { name: "S8", type: CIM.sint8, value: -5 },
    { name: "U8", type: CIM.uint8, value: 250 },
    { name: "S16", type: CIM.sint16, value: -30000 },
    { name: "U16", type: CIM.uint16, value: 65000 },
    { name: "S32", type: CIM.sint32, value: -2000000000 },
    { name: "U32", type: CIM.uint32, value: 4000000000 },
    { name: "S64", type: CIM.sint64, value: -9000000000 },
    { name: "U64", type: CIM.uint64, value: 18446744073709551615n },
    { name: "R64", type: CIM.real64, value: 1.5 },
    { name: "B", type: CIM.boolean, value: false },
    { name: "Str", type: CIM.string, value: "Ünïcode ✓" },
    { name: "When", type: CIM.datetime, value: "20261128080000.000000+000" },
    { name: "Addrs", type: CIM.string | 0x2000, value: ["10.0.0.1", "fe80::1"] },
    { name: "Nums", type: CIM.uint32 | 0x2000, value: [1, 2, 3] },
    { name: "Nothing", type: CIM.string, value: null },
  ];
  const unit = encodeInstance({ className: "Test_Class", properties: props });
  const back = decodeInstance(
    decodeCustomObjRef(encodeCustomObjRef(IID.IWbemClassObject, CLSID.WbemClassObject, unit)).data,
  );
  assertEquals(back.className, "Test_Class");
  assertEquals(back.properties, props);
  assert(unit.length > 100);
});

Deno.test("an object whose values share one string is refused, not decoded into gigabytes", () => {
  // A hostile host points every element of a string array at one long heap string: 20,000
  // references to 100,000 characters were ~160 KB on the wire and decoded synchronously until
  // the poller Worker ran out of memory (the whole process with it).
  const n = 20_000;
  const big = "A".repeat(100_000);
  const unit = encodeInstance({
    className: "Win32_OperatingSystem",
    properties: [{
      name: "Caption",
      type: CIM.string | 0x2000,
      value: [big, ...Array(n - 1).fill("")],
    }],
  });
  // the first element's reference, then n-1 more pointing at the same string
  const view = new DataView(unit.buffer, unit.byteOffset, unit.byteLength);
  const first = "Win32_OperatingSystem".length + 2;
  let patched = false;
  for (let i = 0; i + 8 <= unit.length && !patched; i++) {
    if (view.getUint32(i, true) === n && view.getUint32(i + 4, true) === first) {
      for (let k = 1; k < n; k++) view.setUint32(i + 4 + 4 * k, first, true);
      patched = true;
    }
  }
  assert(patched, "the array was found in the encoded object");
  assert(unit.length < 300_000, `${unit.length} bytes`);
  const err = assertThrows(() => decodeInstance(unit));
  assert(err instanceof WmiProtocolError, String(err));
  assert(/decodes to far more than its size/.test(err.message), err.message);
  // the same object honestly encoded (each element its own string) decodes
  const honest = encodeInstance({
    className: "Win32_OperatingSystem",
    properties: [{ name: "Caption", type: CIM.string | 0x2000, value: [big, "b", "c"] }],
  });
  assertEquals((decodeInstance(honest).properties[0].value as string[]).length, 3);
});
