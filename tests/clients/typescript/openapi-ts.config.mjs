// @hey-api/openapi-ts's settings for the generated client (no edits to what it writes):
// the document and the output folder come from the test; imports end in `.js` so that what
// tsc emits runs in Node as ES modules.
export default {
  input: process.env.OPENAPI_DOCUMENT,
  output: { path: process.env.CLIENT_OUTPUT, importFileExtension: ".js" },
};
