export { adoptDestination } from "./adopt.js";
export { CHECKSUM_SUFFIX, checksumLine, parseChecksumLine, sidecarName } from "./checksum-sidecar.js";
export { checkStoreShape, ContractViolation, isArchiveStore, isNameTaken } from "./contract-violation.js";
export { DirectoryStore, syncDirectory, type DirectoryObject } from "./directory-store.js";
export { CheckedLegacyDestination } from "./legacy-destination.js";
export { LegacyStoreView } from "./legacy-store-view.js";
export { checkLocalPaths } from "./local-paths.js";
export { StagedStore, type StagingOptions } from "./staged-store.js";
export { parseTemporaryName, temporaryName, THIS_MACHINE, type ParsedTemporaryName } from "./temporary-name.js";
