"""Look into (and log in at) moto's cognito-idp, for the provisioning tests.

    cognito_admin.py [--endpoint MOTO_URL] SUBCOMMAND [ARGS]

The endpoint is `--endpoint` or the MOTO_URL environment variable. Every subcommand prints
one JSON object on stdout (exit 0), or an error on stderr (exit 1):

    create-pool                      {"pool_id", "issuer", "jwks_url"}: a pool with the custom
                                     attribute `tenantid`
    describe-client --pool P --client C
                                     {"exists": true, "ClientId", "ClientName", "ClientSecret",
                                      "CallbackURLs", "LogoutURLs", "AllowedOAuthFlows",
                                      "AllowedOAuthScopes", "AllowedOAuthFlowsUserPoolClient",
                                      "ExplicitAuthFlows"} or {"exists": false}
    list-clients --pool P            {"clients": [{"ClientId", "ClientName"}, ...]}
    group --pool P --name G          {"exists": bool}
    groups --pool P                  {"groups": [names]}
    user --pool P --username U       {"exists": true, "username", "status", "enabled",
                                      "attributes": {name: value}, "groups": [names]}
                                     or {"exists": false}
    login --pool P --client C --secret S --username U --temp-password T --new-password N
                                     sets T as the user's temporary password (as Cognito's
                                     invitation does), logs in with USER_PASSWORD_AUTH and
                                     SECRET_HASH, answers NEW_PASSWORD_REQUIRED with N, then
                                     refreshes once with SECRET_HASH (the one flow where moto
                                     checks it, so a wrong secret fails here):
                                     {"challenge", "secret_checked_by_refresh", "id_token",
                                      "access_token", "refresh_token"}
    create-client --pool P --name N [--callback URL ...]
                                     {"client_id", "client_secret"}: a confidential client as
                                     provisioning makes one (code flow, openid email), for the
                                     harness's own checks
    invite-user --pool P --username U --tenant T [--group G]
                                     {"username"}: a user with email, email_verified and
                                     custom:tenantid, invited (FORCE_CHANGE_PASSWORD), in G
    check-secret-hash --pool P --client C --username U --password PW
                                     {"wrong_hash_refused": bool, "missing_hash_refused": bool}
                                     for a user with a permanent password: what moto enforces

Lists are sorted where Cognito's order means nothing (clients by name, groups by name).
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys

import boto3
import botocore.exceptions

REGION = "us-east-1"


def client(endpoint):
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def secret_hash(username, client_id, secret):
    digest = hmac.new(
        secret.encode("utf-8"), (username + client_id).encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def error_code(e):
    return e.response.get("Error", {}).get("Code", "")


def create_pool(idp, args):
    pool = idp.create_user_pool(
        PoolName=args.name,
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
    return {
        "pool_id": pool_id,
        "issuer": f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",
        "jwks_url": f"{args.endpoint}/{pool_id}/.well-known/jwks.json",
    }


def describe_client(idp, args):
    try:
        c = idp.describe_user_pool_client(UserPoolId=args.pool, ClientId=args.client)[
            "UserPoolClient"
        ]
    except botocore.exceptions.ClientError as e:
        if error_code(e) == "ResourceNotFoundException":
            return {"exists": False}
        raise
    keys = [
        "ClientId",
        "ClientName",
        "ClientSecret",
        "CallbackURLs",
        "LogoutURLs",
        "AllowedOAuthFlows",
        "AllowedOAuthScopes",
        "AllowedOAuthFlowsUserPoolClient",
        "ExplicitAuthFlows",
    ]
    out = {"exists": True}
    out.update({k: c.get(k) for k in keys})
    return out


def list_clients(idp, args):
    found = []
    kwargs = {"UserPoolId": args.pool, "MaxResults": 60}
    while True:
        page = idp.list_user_pool_clients(**kwargs)
        found += [
            {"ClientId": c["ClientId"], "ClientName": c.get("ClientName")}
            for c in page.get("UserPoolClients", [])
        ]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    found.sort(key=lambda c: (c["ClientName"] or "", c["ClientId"]))
    return {"clients": found}


def all_groups(idp, pool):
    names = []
    kwargs = {"UserPoolId": pool, "Limit": 60}
    while True:
        page = idp.list_groups(**kwargs)
        names += [g["GroupName"] for g in page.get("Groups", [])]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return sorted(names)


def group(idp, args):
    try:
        idp.get_group(UserPoolId=args.pool, GroupName=args.name)
    except botocore.exceptions.ClientError as e:
        if error_code(e) == "ResourceNotFoundException":
            return {"exists": False}
        raise
    return {"exists": True}


def groups(idp, args):
    return {"groups": all_groups(idp, args.pool)}


def user(idp, args):
    try:
        u = idp.admin_get_user(UserPoolId=args.pool, Username=args.username)
    except botocore.exceptions.ClientError as e:
        if error_code(e) in ("UserNotFoundException", "ResourceNotFoundException"):
            return {"exists": False}
        raise
    member_of = idp.admin_list_groups_for_user(UserPoolId=args.pool, Username=args.username)
    return {
        "exists": True,
        "username": u["Username"],
        "status": u.get("UserStatus"),
        "enabled": u.get("Enabled"),
        "attributes": {a["Name"]: a["Value"] for a in u.get("UserAttributes", [])},
        "groups": sorted(g["GroupName"] for g in member_of.get("Groups", [])),
    }


def login(idp, args):
    idp.admin_set_user_password(
        UserPoolId=args.pool,
        Username=args.username,
        Password=args.temp_password,
        Permanent=False,
    )
    hashed = secret_hash(args.username, args.client, args.secret)
    first = idp.initiate_auth(
        ClientId=args.client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": args.username,
            "PASSWORD": args.temp_password,
            "SECRET_HASH": hashed,
        },
    )
    challenge = first.get("ChallengeName")
    if challenge != "NEW_PASSWORD_REQUIRED":
        raise SystemExit(f"cognito_admin.py login: expected NEW_PASSWORD_REQUIRED, got {first}")
    done = idp.respond_to_auth_challenge(
        ClientId=args.client,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=first["Session"],
        ChallengeResponses={
            "USERNAME": args.username,
            "NEW_PASSWORD": args.new_password,
            "SECRET_HASH": hashed,
        },
    )
    result = done.get("AuthenticationResult")
    if not result:
        raise SystemExit(f"cognito_admin.py login: no tokens after the challenge: {done}")
    # moto checks SECRET_HASH only on the refresh flow (not on USER_PASSWORD_AUTH or the
    # challenge answer): a refresh proves the secret is the client's.
    idp.initiate_auth(
        ClientId=args.client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"], "SECRET_HASH": hashed},
    )
    return {
        "challenge": challenge,
        "secret_checked_by_refresh": True,
        "id_token": result["IdToken"],
        "access_token": result["AccessToken"],
        "refresh_token": result.get("RefreshToken"),
    }


def create_client(idp, args):
    c = idp.create_user_pool_client(
        UserPoolId=args.pool,
        ClientName=args.name,
        GenerateSecret=True,
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email"],
        CallbackURLs=args.callback or ["http://localhost/callback"],
        ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]
    return {"client_id": c["ClientId"], "client_secret": c["ClientSecret"]}


def invite_user(idp, args):
    idp.admin_create_user(
        UserPoolId=args.pool,
        Username=args.username,
        UserAttributes=[
            {"Name": "email", "Value": args.username},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:tenantid", "Value": args.tenant},
        ],
    )
    if args.group:
        try:
            idp.create_group(UserPoolId=args.pool, GroupName=args.group)
        except botocore.exceptions.ClientError as e:
            if error_code(e) != "GroupExistsException":
                raise
        idp.admin_add_user_to_group(
            UserPoolId=args.pool, Username=args.username, GroupName=args.group
        )
    return {"username": args.username}


def check_secret_hash(idp, args):
    def refused(params):
        try:
            idp.initiate_auth(
                ClientId=args.client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params
            )
        except botocore.exceptions.ClientError as e:
            return error_code(e) == "NotAuthorizedException"
        return False

    base = {"USERNAME": args.username, "PASSWORD": args.password}
    return {
        "wrong_hash_refused": refused(dict(base, SECRET_HASH="d3JvbmcK")),
        "missing_hash_refused": refused(base),
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default=os.environ.get("MOTO_URL"))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("create-pool")
    p.add_argument("--name", default="tenant-gateway-provisioning")
    p.set_defaults(run=create_pool)

    p = sub.add_parser("describe-client")
    p.add_argument("--pool", required=True)
    p.add_argument("--client", required=True)
    p.set_defaults(run=describe_client)

    p = sub.add_parser("list-clients")
    p.add_argument("--pool", required=True)
    p.set_defaults(run=list_clients)

    p = sub.add_parser("group")
    p.add_argument("--pool", required=True)
    p.add_argument("--name", required=True)
    p.set_defaults(run=group)

    p = sub.add_parser("groups")
    p.add_argument("--pool", required=True)
    p.set_defaults(run=groups)

    p = sub.add_parser("user")
    p.add_argument("--pool", required=True)
    p.add_argument("--username", required=True)
    p.set_defaults(run=user)

    p = sub.add_parser("login")
    for name in ("pool", "client", "secret", "username", "temp-password", "new-password"):
        p.add_argument(f"--{name}", required=True)
    p.set_defaults(run=login)

    p = sub.add_parser("create-client")
    p.add_argument("--pool", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--callback", action="append")
    p.set_defaults(run=create_client)

    p = sub.add_parser("invite-user")
    p.add_argument("--pool", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--tenant", required=True)
    p.add_argument("--group")
    p.set_defaults(run=invite_user)

    p = sub.add_parser("check-secret-hash")
    for name in ("pool", "client", "username", "password"):
        p.add_argument(f"--{name}", required=True)
    p.set_defaults(run=check_secret_hash)

    args = parser.parse_args(argv)
    if not args.endpoint:
        parser.error("give the moto server URL with --endpoint or in MOTO_URL")
    args.endpoint = args.endpoint.rstrip("/")
    return args


def main(argv):
    args = parse_args(argv)
    try:
        out = args.run(client(args.endpoint), args)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        sys.stderr.write(f"cognito_admin.py {args.command}: {e}\n")
        return 1
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
