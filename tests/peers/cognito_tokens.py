"""Cognito-shaped tokens from moto's cognito-idp, for the gateway's JWT tests.

    cognito_tokens.py [MOTO_URL] --tenant NAME=UUID [--tenant NAME=UUID ...]

MOTO_URL (or the MOTO_URL environment variable) is a running `moto_server`. Creates a user
pool with the custom attribute `tenantid`, an app client without secret (USER_PASSWORD_AUTH,
REFRESH_TOKEN_AUTH) and a group `admins`; a user `<NAME>-user` per tenant with
`custom:tenantid=<UUID>` and in the group `tenant-<UUID>` (a tenant may be named twice: two users; the tenant's Cognito group, as
onboarding creates one; Cognito access tokens carry groups but no custom attributes), the
first tenant's user also in `admins`, and `orphan-user` without a tenant or group. Logs each in with USER_PASSWORD_AUTH and prints one JSON object on stdout:

    {"pool_id", "client_id", "region", "issuer", "jwks_url", "discovery_url",
     "users": {"<NAME>": {"username", "password", "sub", "tenant", "groups",
                          "id_token", "access_token", "refresh_token"},
               "orphan": {... "tenant": null}}}

`issuer` is the `iss` claim the tokens carry (https://cognito-idp.<region>.amazonaws.com/<pool>),
which is not where moto serves the keys: `jwks_url` is.
"""

import argparse
import base64
import json
import os
import sys
import urllib.request
import uuid

import boto3

REGION = "us-east-1"
PASSWORD = "Tenant-Gateway-Test-1!"


def claims(token):
    """The payload of a JWT, unverified (only to report what moto put in it)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("moto_url", nargs="?", default=os.environ.get("MOTO_URL"))
    parser.add_argument(
        "--tenant",
        action="append",
        default=[],
        metavar="NAME=UUID",
        help="a tenant and the custom:tenantid of its user (repeatable)",
    )
    args = parser.parse_args(argv)
    if not args.moto_url:
        parser.error("give the moto server URL as the first argument or in MOTO_URL")
    tenants = []
    for item in args.tenant:
        name, sep, tenant_id = item.partition("=")
        if not sep or not name or not tenant_id:
            parser.error(f"--tenant wants NAME=UUID, got {item!r}")
        if name == "orphan":
            parser.error("the tenant name 'orphan' is reserved for the user without tenant")
        tenants.append((name, tenant_id))
    return args.moto_url.rstrip("/"), tenants


def main(argv):
    moto_url, tenants = parse_args(argv)
    idp = boto3.client(
        "cognito-idp",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    pool = idp.create_user_pool(
        PoolName=f"tenant-gateway-{uuid.uuid4().hex[:8]}",
        Schema=[
            {
                "Name": "tenantid",
                "AttributeDataType": "String",
                "Mutable": True,
                "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
            }
        ],
    )["UserPool"]
    pool_id = pool["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="tenant-gateway",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        # moto copies only readable attributes into the ID token (custom ones always).
        ReadAttributes=["email", "email_verified", "custom:tenantid"],
    )["UserPoolClient"]["ClientId"]
    idp.create_group(UserPoolId=pool_id, GroupName="admins")

    wanted = [(name, f"{name}-user", tenant_id) for name, tenant_id in tenants]
    wanted.append(("orphan", "orphan-user", None))

    users = {}
    issuer = None
    for index, (name, username, tenant_id) in enumerate(wanted):
        attributes = [
            {"Name": "email", "Value": f"{username}@example.test"},
            {"Name": "email_verified", "Value": "true"},
        ]
        if tenant_id is not None:
            attributes.append({"Name": "custom:tenantid", "Value": tenant_id})
        idp.admin_create_user(
            UserPoolId=pool_id,
            Username=username,
            UserAttributes=attributes,
            MessageAction="SUPPRESS",
        )
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True
        )
        groups = []
        if tenant_id is not None:
            group = f"tenant-{tenant_id}"
            try:
                idp.create_group(UserPoolId=pool_id, GroupName=group)
            except idp.exceptions.GroupExistsException:
                pass  # a second user of the same tenant
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
            groups.append(group)
        if index == 0 and tenant_id is not None:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName="admins")
            groups.append("admins")
        auth = idp.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        id_claims = claims(auth["IdToken"])
        issuer = id_claims["iss"]
        users[name] = {
            "username": username,
            "password": PASSWORD,
            "sub": id_claims["sub"],
            "tenant": tenant_id,
            "groups": groups,
            "id_token": auth["IdToken"],
            "access_token": auth["AccessToken"],
            "refresh_token": auth["RefreshToken"],
        }

    jwks_url = f"{moto_url}/{pool_id}/.well-known/jwks.json"
    with urllib.request.urlopen(jwks_url, timeout=10) as resp:  # fail here, not in the test
        if not json.load(resp).get("keys"):
            raise SystemExit(f"cognito_tokens.py: {jwks_url} serves no keys")

    json.dump(
        {
            "pool_id": pool_id,
            "client_id": client_id,
            "region": REGION,
            "issuer": issuer,
            "jwks_url": jwks_url,
            "discovery_url": f"{moto_url}/{pool_id}/.well-known/openid-configuration",
            "users": users,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
