// The TypeScript example of the authentication page (shared/seed/authentication.txt),
// "Using Your API Key", as written there except the base URL:
// 'http://localhost:3000' is BASE_URL, read from WORKFLOWS_BASE_URL, so a test
// can point it at its own server. Type-checked and compiled with the pinned
// tsc (tsconfig.json beside this file), then run with node.
const BASE_URL = process.env.WORKFLOWS_BASE_URL ?? 'http://localhost:3000';

// ---- as on the page ----
const API_KEY = process.env.WORKFLOWS_API_KEY as string;
const response = await fetch(`${BASE_URL}/api/v1/workflows`, {
  headers: {
    'x-api-key': API_KEY
  }
});
// ---- end ----

// Not on the page: print what came back, for the test to read.
console.log(JSON.stringify({
  status: response.status,
  headers: Object.fromEntries(response.headers),
  body: await response.text(),
}));

// Top-level await needs the file to be a module.
export {};
