/**
 * The islands: every interactive part of the pages, registered here. The bundler makes an
 * entry of each one's module (lib/web/bundle.ts); pages render them as `<Island of={…} />`.
 * The other files in islands/ are their parts.
 */
import type { ComponentProps, ComponentType } from "preact";
import type { IslandDef } from "../../components/Island.tsx";
import CredentialProfiles from "../../islands/CredentialProfiles.tsx";
import DeviceActions from "../../islands/DeviceActions.tsx";
import DeviceAdd from "../../islands/DeviceAdd.tsx";
import DeviceCharts from "../../islands/DeviceCharts.tsx";
import DeviceDepth from "../../islands/DeviceDepth.tsx";
import DiscoveryPanel from "../../islands/DiscoveryPanel.tsx";
import LocalTimes from "../../islands/LocalTimes.tsx";
import MonitorEditor from "../../islands/MonitorEditor.tsx";
import Overview from "../../islands/Overview.tsx";
import PasswordChange from "../../islands/PasswordChange.tsx";
import UserAdmin from "../../islands/UserAdmin.tsx";
import PollerNodes from "../../islands/PollerNodes.tsx";
import AlertRules from "../../islands/AlertRules.tsx";
import DeviceTags from "../../islands/DeviceTags.tsx";
import MaintenanceWindows from "../../islands/MaintenanceWindows.tsx";
import NotificationChannels from "../../islands/NotificationChannels.tsx";
import Problems from "../../islands/Problems.tsx";

// deno-lint-ignore no-explicit-any
type Components = Record<string, ComponentType<any>>;
type Registered<T extends Components> = {
  [K in keyof T & string]: IslandDef<ComponentProps<T[K]>>;
};

/** Each key names an island whose component is the default export of islands/<key>.tsx. */
function register<T extends Components>(components: T): Registered<T> {
  return Object.fromEntries(
    Object.entries(components).map(([name, component]) => [name, {
      name,
      component,
      module: new URL(`../../islands/${name}.tsx`, import.meta.url),
    }]),
  ) as Registered<T>;
}

export const islands = register({
  CredentialProfiles,
  DeviceActions,
  DeviceAdd,
  DeviceCharts,
  DeviceDepth,
  DiscoveryPanel,
  LocalTimes,
  MonitorEditor,
  Overview,
  PasswordChange,
  UserAdmin,
  PollerNodes,
  AlertRules,
  DeviceTags,
  MaintenanceWindows,
  NotificationChannels,
  Problems,
});
