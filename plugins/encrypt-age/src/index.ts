import { definePlugin } from "@sov/core";
import { createDecryptStream } from "./decrypt.js";
import { createEncryptor } from "./encrypt.js";
import { openAgeRange } from "./random-access.js";
import { loadRecipients, type RecipientOptions } from "./recipients.js";

export const PLUGIN_NAME = "@sov/encrypt-age";

export type { RecipientOptions as AgeOptions } from "./recipients.js";
export { createEncryptor, createEncryptStream } from "./encrypt.js";
export { createDecryptStream } from "./decrypt.js";
export { openAgeRange } from "./random-access.js";
export { generateKeyPair, type AgeKeyPair } from "./keys.js";

const optionsSchema = {
  type: "object",
  properties: {
    recipients_file: { type: "string", minLength: 1 },
    recipients: { type: "array", items: { type: "string", minLength: 1 } },
  },
  anyOf: [{ required: ["recipients_file"] }, { required: ["recipients"] }],
  additionalProperties: false,
};

/** Standard age files: `age -d -i KEY` decrypts every archive. */
export default definePlugin<RecipientOptions>({
  name: PLUGIN_NAME,
  stage: "encrypt",
  optionsSchema,
  apply(hooks, options) {
    hooks.encrypt.tapPromise(PLUGIN_NAME, async () => createEncryptor(await loadRecipients(options)));
  },
  decoder: {
    extension: "age",
    createDecodeStream: createDecryptStream,
    openRange: openAgeRange,
  },
});
