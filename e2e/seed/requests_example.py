"""The Python example of the authentication page (shared/seed/authentication.txt).

"Using Your API Key", as written there except the base URL: 'http://localhost:3000'
is BASE_URL, read from WORKFLOWS_BASE_URL, so a test can point it at its own
server. Needs requests.

Usage: WORKFLOWS_API_KEY=wfk_... python requests_example.py
"""
import json
import os

BASE_URL = os.environ.get('WORKFLOWS_BASE_URL', 'http://localhost:3000')

# ---- as on the page ----
import os
import requests
API_KEY = os.environ.get('WORKFLOWS_API_KEY')
response = requests.get(
    f'{BASE_URL}/api/v1/workflows',
    headers={'x-api-key': API_KEY}
)
# ---- end ----

# Not on the page: print what came back, for the test to read.
print(json.dumps({
    'status': response.status_code,
    'headers': dict(response.headers),
    'body': response.text,
}))
