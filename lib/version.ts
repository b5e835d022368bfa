/** The release this tree builds: the OpenAPI document and /health report it. */
export const VERSION = "0.1.0";
