"""An unmodified third-party OAuth2 client (requests-oauthlib) and an independent JWT
library (PyJWT) against a running Vigie server. Prints one JSON object of findings."""

import base64
import json
import os
import sys

import jwt
import requests
from jwt import PyJWKClient
from oauthlib.oauth2 import BackendApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the test server is plain HTTP on loopback

url, client_id, secret, org = sys.argv[1:5]
auth = HTTPBasicAuth(client_id, secret)
session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
found = {}

token = session.fetch_token(token_url=f"{url}/v0/oauth2token", auth=auth)
found["fetched_expires_in"] = token["expires_in"]
renewed = session.refresh_token(f"{url}/v0/oauth2/token", refresh_token=token["refresh_token"], auth=auth)
found["renewed_refresh_token_differs"] = renewed["refresh_token"] != token["refresh_token"]
found["api_status_with_session"] = session.get(f"{url}/v0/organisations/{org}/projects").status_code

access = renewed["access_token"]
signing_key = PyJWKClient(f"{url}/.well-known/jwks.json").get_signing_key_from_jwt(access)
claims = jwt.decode(access, signing_key.key, algorithms=["EdDSA"], audience="vigie-api", issuer=url)
found["verified_claims"] = claims
found["header"] = jwt.get_unverified_header(access)

jwk = requests.get(f"{url}/.well-known/jwks.json").json()["keys"][0]
public_bytes = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
headers = {"kid": jwk["kid"], "typ": "at+jwt"}
forged = {
    "HS256": jwt.encode(claims, public_bytes, algorithm="HS256", headers=headers),
    "none": jwt.encode(claims, None, algorithm="none", headers=headers),
}
for name, token in forged.items():
    try:
        jwt.decode(token, signing_key.key, algorithms=["EdDSA"], audience="vigie-api", issuer=url)
        found[f"pyjwt_rejects_{name}"] = False
    except jwt.InvalidTokenError:
        found[f"pyjwt_rejects_{name}"] = True
    response = requests.get(f"{url}/v0/organisations/{org}/projects", headers={"Authorization": f"Bearer {token}"})
    found[f"server_status_{name}"] = response.status_code
    found[f"server_challenge_{name}"] = response.headers.get("WWW-Authenticate", "")

print(json.dumps(found))
