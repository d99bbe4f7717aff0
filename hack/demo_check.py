#!/usr/bin/env python
"""What `make demo` shows between its runs, read from the emulator the way a person would check it.

    demo_check.py call TOKEN_FILE APPLICATION   a host's API call with its token: GET /v3/applications/<id>
    demo_check.py keys APPLICATION              the application's verification keys
    demo_check.py grace-left APPLICATION SECONDS seconds until SECONDS have passed since the current key was uploaded
    demo_check.py writes                        "<writes> <requests>" in the emulator's request log

IZUMA_API_HOST and IZUMA_API_KEY (the administrator key, only to look things up) come from the environment.
Nothing here prints a token.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import urllib.error
import urllib.request

HOST = os.environ["IZUMA_API_HOST"].rstrip("/")


def request(path: str, headers: dict[str, str]) -> tuple[int, object]:
    """GET a path; return the status and the decoded JSON body."""
    req = urllib.request.Request(HOST + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def admin(path: str) -> object:
    """GET with the administrator key."""
    status, body = request(path, {"Authorization": "Bearer " + os.environ["IZUMA_API_KEY"]})
    if status != 200:
        sys.exit("GET %s answered %s" % (path, status))
    return body


def application(name: str) -> dict:
    """The application with this name."""
    for item in admin("/v3/applications?limit=1000")["data"]:
        if item["name"] == name:
            return item
    sys.exit("no application named %s" % name)


def keys(name: str) -> list:
    """The verification keys of an application, oldest first."""
    app = application(name)
    return sorted(admin("/v3/applications/%s/verification-keys" % app["id"])["data"], key=lambda item: item["created_at"])


def parse(text: str) -> datetime.datetime:
    """An RFC 3339 time of the API."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def main(argv: list[str]) -> None:
    """Dispatch the subcommand."""
    command = argv[0]
    if command == "call":
        with open(argv[1], encoding="ascii") as stream:
            token = stream.read().strip()
        app = application(argv[2])
        status, body = request("/v3/applications/" + app["id"], {"X-Application-ID": app["id"], "Authorization": "Bearer " + token})
        print("HTTP %d (%s)" % (status, "the API accepted the token" if status == 200 else "refused: " + body.get("type", "?")))
    elif command == "keys":
        print(", ".join("%s (%s, %s)" % (item["name"], item["algorithm"], item["status"]) for item in keys(argv[1])) or "none")
    elif command == "grace-left":
        current = [item for item in keys(argv[1]) if not item["name"].endswith("-previous")][-1]
        elapsed = (datetime.datetime.now(datetime.timezone.utc) - parse(current["created_at"])).total_seconds()
        print(max(0, int(float(argv[2]) - elapsed) + 1))
    elif command == "writes":
        with urllib.request.urlopen(HOST + "/_emulator/log", timeout=10) as answer:
            log = json.load(answer)
        print(sum(1 for entry in log if entry["method"] != "GET"), len(log))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
