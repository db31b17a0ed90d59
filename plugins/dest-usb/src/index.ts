import { definePlugin, type ArchiveStore, type Logger } from "@sov/core";
import { optionsSchema, resolveUsbOptions, type UsbOptions } from "./options.js";
import { markerDirectory } from "./mount-marker.js";
import { UsbDestination } from "./usb-destination.js";

export const PLUGIN_NAME = "@sov/dest-usb";

export { DEFAULT_MOUNT, DEFAULT_SUBDIR, MOUNT_ENV, optionsSchema, resolveUsbOptions, type ResolvedUsbOptions, type UsbOptions } from "./options.js";
export { DeviceNotFoundError, findDeviceByLabel, udevLabelName, type BlockDevice } from "./device.js";
export { parseMountInfo, readMountInfo, type MountEntry } from "./mountinfo.js";
export { MOUNT_OPTIONS } from "./mounter.js";
export { UsbDestination } from "./usb-destination.js";

/** A USB stick found by label; `env` supplies `$SOVEREIGN_BACKUP_USB_MOUNT` when `mount` is unset. */
export function usbDestination(name: string, options: UsbOptions, log: Logger, env: NodeJS.ProcessEnv = process.env): ArchiveStore {
  return new UsbDestination(name, resolveUsbOptions(name, options, env), log, markerDirectory(env));
}

export default definePlugin<UsbOptions>({
  name: PLUGIN_NAME,
  stage: "destination",
  optionsSchema,
  apply(hooks, options, ctx) {
    hooks.destination.tapPromise(PLUGIN_NAME, async (destinations) => {
      destinations.add(usbDestination(ctx.instance, options, ctx.log, ctx.env));
    });
  },
});
