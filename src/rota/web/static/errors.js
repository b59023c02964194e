// An API error in words: the field and reason when the server named them.
import { ApiError } from "./api.js";

export function message(e) {
  if (e instanceof ApiError && e.body.field) return `${e.body.field}: ${e.body.reason || e.message}`;
  if (e instanceof ApiError && e.status === 403) return "Only an admin may do this.";
  if (e instanceof ApiError && e.status === 429) return "Too many requests: wait a moment.";
  return e.message;
}
