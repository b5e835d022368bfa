/** Win32_LogicalDisk and the formatted network-interface counters, plus the class registry. */
import { signal, unit } from "./profile.ts";
import { BASE_CLASSES, counter, defineClass, type WmiClass } from "./wmi.ts";
import {
  pageFileUsage,
  perfProcess,
  physicalDisk,
  physicalDiskRaw,
  win32Process,
} from "./wmi_depth.ts";
import { ntLogEvent } from "./wmi_eventlog.ts";
import { service } from "./wmi_services.ts";

const logicalDisk = defineClass(
  "Win32_LogicalDisk",
  ["DeviceID"],
  false,
  `Access Availability BlockSize Caption Compressed ConfigManagerErrorCode
   ConfigManagerUserConfig CreationClassName Description DeviceID DriveType ErrorCleared
   ErrorDescription ErrorMethodology FileSystem FreeSpace InstallDate LastErrorCode
   MaximumComponentLength MediaType Name NumberOfBlocks PNPDeviceID PowerManagementSupported
   ProviderName Purpose QuotasDisabled QuotasIncomplete QuotasRebuilding Size Status StatusInfo
   SupportsDiskQuotas SupportsFileBasedCompression SystemCreationClassName SystemName
   VolumeDirty VolumeName VolumeSerialNumber`,
  (h, now) => {
    const fixed = (id: string, size: number, usedShare: number, label: string, salt: number) => ({
      Access: 0,
      Caption: id,
      Compressed: false,
      CreationClassName: "Win32_LogicalDisk",
      Description: "Local Fixed Disk",
      DeviceID: id,
      DriveType: 3,
      FileSystem: "NTFS",
      // Used space drifts slowly (a 1 h sine) around a per-host level.
      FreeSpace: Math.floor(
        size * (1 - (h.volumeUsed?.[id] ?? usedShare + 0.05 * signal(h.seed, salt, now, 3600))) /
          4096,
      ) * 4096,
      MaximumComponentLength: 255,
      MediaType: 12,
      Name: id,
      QuotasDisabled: true,
      QuotasIncomplete: false,
      QuotasRebuilding: false,
      Size: size,
      SupportsDiskQuotas: true,
      SupportsFileBasedCompression: true,
      SystemCreationClassName: "Win32_ComputerSystem",
      SystemName: h.name,
      VolumeDirty: false,
      VolumeName: label,
      VolumeSerialNumber: ((h.seed ^ (salt * 0x1010101)) >>> 0).toString(16).toUpperCase()
        .padStart(8, "0"),
    });
    return [
      fixed("C:", h.disks.c, 0.3 + 0.5 * unit(h.seed, 60), "", 61),
      fixed("D:", h.disks.d, 0.1 + 0.8 * unit(h.seed, 62), "Data", 63),
      {
        // An empty DVD drive: no size, no free space, no file system.
        Access: 0,
        Caption: "E:",
        CreationClassName: "Win32_LogicalDisk",
        Description: "CD-ROM Disc",
        DeviceID: "E:",
        DriveType: 5,
        MediaType: 11,
        Name: "E:",
        SystemCreationClassName: "Win32_ComputerSystem",
        SystemName: h.name,
      },
    ];
  },
);

const networkInterface = defineClass(
  "Win32_PerfFormattedData_Tcpip_NetworkInterface",
  ["Name"],
  false,
  `BytesReceivedPersec BytesSentPersec BytesTotalPersec Caption CurrentBandwidth Description
   Frequency_Object Frequency_PerfTime Frequency_Sys100NS Name OffloadedConnections
   OutputQueueLength PacketsOutboundDiscarded PacketsOutboundErrors PacketsPersec
   PacketsReceivedDiscarded PacketsReceivedErrors PacketsReceivedNonUnicastPersec
   PacketsReceivedPersec PacketsReceivedUnicastPersec PacketsReceivedUnknown
   PacketsSentNonUnicastPersec PacketsSentPersec PacketsSentUnicastPersec Timestamp_Object
   Timestamp_PerfTime Timestamp_Sys100NS`,
  (h, now) =>
    h.nics.map((nic, i) => {
      const rx = Math.floor(nic.rxRate * (0.2 + 1.6 * signal(h.seed, 70 + i, now, 240)));
      const tx = Math.floor(rx * (0.3 + 0.5 * unit(h.seed, 72 + i)));
      const rxPk = Math.floor(rx / 900);
      const txPk = Math.floor(tx / 700);
      const nonUnicast = Math.floor(rxPk / 20);
      return {
        BytesReceivedPersec: rx,
        BytesSentPersec: tx,
        BytesTotalPersec: rx + tx,
        CurrentBandwidth: nic.bandwidth,
        Frequency_Object: 0,
        Frequency_PerfTime: 0,
        Frequency_Sys100NS: 0,
        Name: nic.name,
        OffloadedConnections: 0,
        OutputQueueLength: 0,
        // Errors and discards are raw counts since boot; only some hosts have any.
        PacketsOutboundDiscarded: unit(h.seed, 74 + i) < 0.3 ? counter(h, 75 + i, 0.001, now) : 0,
        PacketsOutboundErrors: 0,
        PacketsPersec: rxPk + txPk,
        PacketsReceivedDiscarded: unit(h.seed, 76 + i) < 0.5 ? counter(h, 77 + i, 0.01, now) : 0,
        PacketsReceivedErrors: unit(h.seed, 78 + i) < 0.2 ? counter(h, 79 + i, 0.0005, now) : 0,
        PacketsReceivedNonUnicastPersec: nonUnicast,
        PacketsReceivedPersec: rxPk,
        PacketsReceivedUnicastPersec: rxPk - nonUnicast,
        PacketsReceivedUnknown: 0,
        PacketsSentNonUnicastPersec: 0,
        PacketsSentPersec: txPk,
        PacketsSentUnicastPersec: txPk,
        Timestamp_Object: 0,
        Timestamp_PerfTime: 0,
        Timestamp_Sys100NS: 0,
      };
    }),
);

/** lower-case class name → class */
export const CLASSES: ReadonlyMap<string, WmiClass> = new Map(
  [
    ...BASE_CLASSES,
    logicalDisk,
    networkInterface,
    service,
    perfProcess,
    win32Process,
    physicalDisk,
    physicalDiskRaw,
    pageFileUsage,
    ntLogEvent,
  ].map((c) => [c.name.toLowerCase(), c]),
);
