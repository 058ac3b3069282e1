// The JavaScript examples of the authentication page (shared/seed/authentication.txt),
// as written there except the base URL: 'http://localhost:3000' is BASE_URL,
// read from WORKFLOWS_BASE_URL, so a test can point them at its own server.
//
// Usage: WORKFLOWS_API_KEY=wfk_... node fetch.mjs EXAMPLE
//   list-workflows     "Using Your API Key"
//   fetch-with-retry   "Handling Rate Limits": fetchWithRetry creating a key
//                      (a write), so that a low write limit makes it meet a 429
const BASE_URL = process.env.WORKFLOWS_BASE_URL ?? 'http://localhost:3000';

// ---- "Handling Rate Limits", as on the page ----
async function fetchWithRetry(url, options, maxRetries = 3) {
  for (let i = 0; i < maxRetries; i++) {
    const response = await fetch(url, options);
    if (response.status === 429) {
      const resetTime = response.headers.get('X-RateLimit-Reset');
      const waitMs = resetTime
        ? (parseInt(resetTime) * 1000) - Date.now()
        : Math.pow(2, i) * 1000;
      await new Promise(resolve => setTimeout(resolve, waitMs));
      continue;
    }
    return response;
  }
  throw new Error('Max retries exceeded');
}
// ---- end ----

// Not on the page: print what came back, for the test to read.
async function print(response) {
  console.log(JSON.stringify({
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  }));
}

const example = process.argv[2];
if (example === 'list-workflows') {
  // ---- "Using Your API Key", as on the page ----
  const API_KEY = process.env.WORKFLOWS_API_KEY;
  const response = await fetch(`${BASE_URL}/api/v1/workflows`, {
    headers: {
      'x-api-key': API_KEY
    }
  });
  // ---- end ----
  await print(response);
} else if (example === 'fetch-with-retry') {
  const response = await fetchWithRetry(`${BASE_URL}/api/v1/auth/api-keys`, {
    method: 'POST',
    headers: {
      'x-api-key': process.env.WORKFLOWS_API_KEY,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({ name: 'Production API Key', scopes: ['workflows:read'] }),
  });
  await print(response);
} else {
  console.error('usage: node fetch.mjs list-workflows|fetch-with-retry');
  process.exit(2);
}
