/**
 * `@sov/core/testing`: what a plugin author runs in their own tests. The destination
 * conformance suite (the same one sov's own destinations pass) and a harness that loads a
 * plugin exactly the way `sov run` does. Uses node:test, which is built into Node.
 */
export {
  destinationChecks,
  destinationConformance,
  type ConformanceCheck,
  type ConformanceCheckInfo,
  type DestinationConformanceOptions,
  type RawStorage,
} from "./destination-conformance.js";
export {
  applyPluginForTest,
  checkPluginOptions,
  checkPluginShape,
  createPluginContext,
  createRecordingLogger,
  createRunInfo,
  destinationFromPlugin,
  storeFromPlugin,
  type RecordingLogger,
} from "./plugin-harness.js";
export { hasTool, needRoot, needTools } from "./tools.js";
export { needS3, type S3TestServer } from "./s3.js";
export { trustedScratch } from "./scratch.js";
export { startTcpRelay, type TcpRelay } from "./relay.js";
export { recordThreads, type ThreadExits } from "./threads.js";
