"""Test hooks for the data plane, served beside moto on the emulator's own port.

    GET  /runbook-emulator/dataplane/instances[?region=R&identifier=I]
    POST /runbook-emulator/dataplane/pause-replay    {"identifier": I, "region": R}
    POST /runbook-emulator/dataplane/cut-replication {"identifier": I, "region": R}  (stop receiving WAL; restore-replication undoes it)
    POST /runbook-emulator/dataplane/resume-replay   {"identifier": I, "region": R}
    POST /runbook-emulator/dataplane/kill            {"identifier": I, "region": R}
    POST /runbook-emulator/dataplane/start           {"identifier": I, "region": R}

JSON in and out; errors are {"error": message} with 400 / 404 / 409 / 500. "region" (and
"account") may be left out when the identifier is unique. The requests bypass moto's
routing (a request without an AWS signature would otherwise go to moto's S3).
"""

from __future__ import annotations

import json

from werkzeug.wrappers import Request, Response

from dataplane import DataPlane
from pgserver import PgError

PREFIX = "/runbook-emulator/dataplane/"


class HookError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class HookMiddleware:
    """WSGI middleware: PREFIX paths go to the hooks, everything else to moto."""

    def __init__(self, app, dp: DataPlane):
        self.app = app
        self.dp = dp
        self.actions = {
            "pause-replay": self._pause_replay,
            "resume-replay": self._resume_replay,
            "cut-replication": self._cut_replication,
            "restore-replication": self._restore_replication,
            "kill": self._kill,
            "start": self._start,
        }

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith(PREFIX):
            return self.app(environ, start_response)
        request = Request(environ)
        try:
            status, body = 200, self._dispatch(request)
        except HookError as exc:
            status, body = exc.status, {"error": str(exc)}
        except PgError as exc:
            status, body = 500, {"error": str(exc)}
        response = Response(json.dumps(body, indent=1) + "\n", status, mimetype="application/json")
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> dict:
        name = request.path[len(PREFIX):].strip("/")
        if name == "instances" and request.method == "GET":
            return self._list(request.args)
        action = self.actions.get(name)
        if action is None:
            raise HookError(404, f"no hook {request.method} {request.path}")
        if request.method != "POST":
            raise HookError(405, f"{name} takes POST")
        return action(self._record(self._json(request)))

    # -- the hooks ---------------------------------------------------------------------------

    def _list(self, args) -> dict:
        records = self.dp.records()
        if args.get("identifier"):
            records = self.dp.find(args["identifier"], args.get("region"), args.get("account"))
        elif args.get("region"):
            records = [r for r in records if r.db.region == args["region"]]
        return {"root": self.dp.kit.root, "instances": [self.dp.describe(r) for r in records]}

    def _pause_replay(self, record) -> dict:
        self._require_standby(record)
        state = record.server.pause_replay()
        return {**self.dp.describe(record), "replay_pause_state": state}

    def _resume_replay(self, record) -> dict:
        self._require_standby(record)
        state = record.server.resume_replay()
        return {**self.dp.describe(record), "replay_pause_state": state}

    def _cut_replication(self, record) -> dict:
        self._require_standby(record)
        return {**self.dp.describe(record), "replication": record.server.cut_replication()}

    def _restore_replication(self, record) -> dict:
        self._require_standby(record)
        return {**self.dp.describe(record), "replication": record.server.restore_replication()}

    def _kill(self, record) -> dict:
        self.dp.kill(record)
        return self.dp.describe(record)

    def _start(self, record) -> dict:
        self.dp.revive(record)
        return self.dp.describe(record)

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _json(request: Request) -> dict:
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            raise HookError(400, "the body is not JSON") from None
        if not isinstance(body, dict) or not body.get("identifier"):
            raise HookError(400, 'the body needs {"identifier": ..., "region": ...}')
        return body

    def _record(self, body: dict):
        found = self.dp.find(body["identifier"], body.get("region"), body.get("account"))
        if not found:
            raise HookError(404, f"no data-plane instance {body['identifier']} ({body.get('region', 'any region')})")
        if len(found) > 1:
            raise HookError(400, f"{body['identifier']} exists in several regions; say which")
        return found[0]

    @staticmethod
    def _require_standby(record) -> None:
        if not record.server.running:
            raise HookError(409, f"{record.db.db_instance_identifier}: the server is not running")
        if not record.server.is_standby:
            raise HookError(409, f"{record.db.db_instance_identifier} is not a standby")
