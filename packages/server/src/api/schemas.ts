// The API's request and response schemas live with the client library, so the
// server's validation and the client's types come from the same definitions.
export * from "../../../client/src/schemas.ts";
