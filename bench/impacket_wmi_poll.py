"""impacket's WMI client polling the simulator, for bench/wmi.ts (run with /usr/bin/python3).

argv[1] is JSON {host, user, password, queries, warmup, seconds}. Logs in once (activation,
NTLMLogin), then repeats the poll (each query: ExecQuery, IEnumWbemClassObject::Next one object
at a time until WBEM_S_FALSE, as wmiquery.py does, then RemRelease of the enumerator) on the
kept IWbemServices. Prints {"polls", "cpu_s", "wall_s", "objects"} for the measured part.
"""
import json
import sys
import time

from impacket.dcerpc.v5.dcom import wmi
from impacket.dcerpc.v5.dcomrt import DCOMConnection
from impacket.dcerpc.v5.dtypes import NULL

spec = json.loads(sys.argv[1])
dcom = DCOMConnection(spec["host"], spec["user"], spec["password"], "", "", "", None, oxidResolver=True)
login = wmi.IWbemLevel1Login(dcom.CoCreateInstanceEx(wmi.CLSID_WbemLevel1Login, wmi.IID_IWbemLevel1Login))
services = login.NTLMLogin("//./root/cimv2", NULL, NULL)
login.RemRelease()


def poll():
    n = 0
    for q in spec["queries"]:
        enum = services.ExecQuery(q)
        while True:
            try:
                obj = enum.Next(0xFFFFFFFF, 1)[0]
                obj.getProperties()
                n += 1
            except Exception as e:  # wmiquery.py's way: S_FALSE ends the enumeration
                if "S_FALSE" not in str(e):
                    raise
                break
        enum.RemRelease()
    return n


end = time.time() + spec["warmup"]
while time.time() < end:
    poll()
polls = objects = 0
cpu0, wall0 = time.process_time(), time.time()
while time.time() - wall0 < spec["seconds"]:
    objects += poll()
    polls += 1
cpu, wall = time.process_time() - cpu0, time.time() - wall0
services.RemRelease()
dcom.disconnect()
print(json.dumps({"polls": polls, "cpu_s": cpu, "wall_s": wall, "objects": objects}))
