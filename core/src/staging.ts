// The staging implementation lives in ./staging/; this path stays for modules that import it here.
export { CHECKSUM_SUFFIX, DirectoryStore, syncDirectory } from "./staging/index.js";
