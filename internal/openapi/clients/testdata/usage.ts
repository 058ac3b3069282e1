// What a TypeScript user writes against the types openapi-typescript makes
// from the document (schema.d.ts, generated beside this file by
// generators_test.go). It compiles under --strict only if lists are typed
// by their items, errors by their code, message and details, and steps by
// their type; each @ts-expect-error must be an error, so types that came
// out as unknown or any fail the check too ("Unused '@ts-expect-error'").
import type { components, operations, paths } from "./schema";

type Schemas = components["schemas"];

// A page of workflows, as GET /workflows answers it.
const list: Schemas["WorkflowListEnvelope"] = {
  success: true,
  data: [
    {
      id: "wf_01jc0000000000000000000000",
      name: "Notify big orders",
      description: "",
      enabled: true,
      trigger: { type: "manual" },
      version: 1,
      createdAt: "2026-12-07T21:41:30.123Z",
      updatedAt: "2026-12-07T21:41:30.123Z",
    },
  ],
  meta: { nextCursor: null },
};
export const firstId: string = list.data[0].id.toUpperCase();
export const firstVersion: number = list.data[0].version;
// @ts-expect-error a workflow summary has no such field
list.data[0].nonexistent;
// @ts-expect-error an id is a string
list.data[0].id = 42;
// @ts-expect-error the envelope of a success says so
list.success = false;

// The same page taken from the operation, as a client library types it.
type ListWorkflowsAnswer = paths["/workflows"]["get"]["responses"][200]["content"]["application/json"];
const page: ListWorkflowsAnswer = list;
export const nextCursor: string | null = page.meta.nextCursor;
// @ts-expect-error nextCursor is a string or null
export const cursorAsNumber: number = page.meta.nextCursor;
export const listedByOperation: operations["list-workflows"]["responses"][200]["content"]["application/json"] = page;

// A 400, with the invalid fields.
const invalid: Schemas["ValidationError"] = {
  success: false,
  error: {
    code: "VALIDATION_ERROR",
    message: "steps: is required",
    details: [{ field: "steps", message: "is required" }],
  },
};
export const invalidCode: "VALIDATION_ERROR" = invalid.error.code;
export const invalidMessage: string = invalid.error.message;
export const invalidField: string | undefined = invalid.error.details?.[0].field;
// @ts-expect-error details may be absent
export const fieldWithoutCheck: string = invalid.error.details[0].field;
// @ts-expect-error a validation error's code is VALIDATION_ERROR only
export const wrongCode: Schemas["ValidationError"]["error"]["code"] = "NOT_FOUND";
// @ts-expect-error an error has a message
export const noMessage: Schemas["NotFoundError"] = { success: false, error: { code: "NOT_FOUND" } };

// Any error answer: its code is one of the document's codes.
export function isRetryable(answer: Schemas["ErrorEnvelope"]): boolean {
  const code: Schemas["ErrorCode"] = answer.error.code;
  // @ts-expect-error no such code
  if (code === "TEAPOT") return false;
  return code === "RATE_LIMITED" || code === "SERVICE_UNAVAILABLE";
}

// A step is narrowed by its type.
export function urlOf(step: Schemas["WorkflowStep"]): string | undefined {
  if (step.type === "http") {
    return step.with.url;
  }
  if (step.type === "transform") {
    const program: string = step.with.jq;
    return program.length > 0 ? undefined : undefined;
  }
  // @ts-expect-error only an http step has a url
  return step.with.url;
}
// @ts-expect-error no such step type
export const unknownStep: Schemas["WorkflowStep"] = { id: "x", type: "sleep", with: {} };

// A run, as GET /runs/{id} answers it: its steps are typed too.
export function stepIds(answer: paths["/runs/{id}"]["get"]["responses"][200]["content"]["application/json"]): string[] {
  const status: Schemas["RunStatus"] = answer.data.status;
  return answer.data.steps.map((s) => `${s.id}:${s.status}:${status}`);
}
