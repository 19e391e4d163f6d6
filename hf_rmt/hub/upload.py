# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The Hub operations of a push: create the repo, fetch its card, upload a folder's files in one commit (deleting
weight files the new checkpoint replaces), and the errors that name the repo and the cause."""

from __future__ import annotations

import os
import shutil
from typing import Any

from huggingface_hub import CommitInfo, CommitOperationAdd, CommitOperationDelete
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RevisionNotFoundError

from ..checkpoint.save import ADAPTER_WEIGHTS_NAME, FULL_WEIGHTS_PREFIXES


def create_hub_repo(api: Any, repo_id: str, options: dict[str, Any], local_dir: str | None = None) -> str:
    try:
        return api.create_repo(
            repo_id, private=options.get("private"), token=options.get("token"), exist_ok=True
        ).repo_id
    except HfHubHTTPError as error:
        raise _push_error("create", repo_id, error, local_dir) from error


def download_card(
    api: Any, repo_id: str, options: dict[str, Any], directory: str, local_dir: str | None = None
) -> None:
    """Copies the repo's `README.md` (at `revision`, else `main`) into `directory`, if it has one."""
    for revision in dict.fromkeys([options.get("revision") or "main", "main"]):
        try:
            path = api.hf_hub_download(repo_id, "README.md", revision=revision, token=options.get("token"))
        except RevisionNotFoundError:
            continue
        except EntryNotFoundError:
            return
        except HfHubHTTPError as error:
            raise _push_error("read the model card of", repo_id, error, local_dir) from error
        shutil.copyfile(path, os.path.join(directory, "README.md"))
        return


def file_times(directory: str) -> dict[str, int]:
    """`{relative path: modification time in ns}` for every file under `directory`."""
    times = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            times[os.path.relpath(path, directory)] = os.stat(path).st_mtime_ns
    return times


def upload_files(
    api: Any, directory: str, paths: list[str], repo_id: str, options: dict[str, Any], local_dir: str | None
) -> CommitInfo:
    operations = [
        CommitOperationAdd(path_in_repo=path.replace(os.sep, "/"), path_or_fileobj=os.path.join(directory, path))
        for path in paths
    ]
    revision, token = options.get("revision"), options.get("token")
    try:
        if revision and revision != "main" and not revision.startswith("refs/pr/"):
            api.create_branch(repo_id, branch=revision, token=token, exist_ok=True)
        operations += _stale_weights(api, repo_id, revision, token, directory)
        return api.create_commit(
            repo_id,
            operations,
            commit_message=options.get("commit_message") or "Upload hf_rmt model",
            commit_description=options.get("commit_description"),
            token=token,
            revision=revision,
            create_pr=bool(options.get("create_pr")),
        )
    except HfHubHTTPError as error:
        raise _push_error("push to", repo_id, error, local_dir) from error
    except ValueError as error:  # the Hub refused the card's YAML ("Invalid metadata in README.md ...")
        kept = f" The checkpoint is still saved in {local_dir}." if local_dir else ""
        raise ValueError(f"Could not push to the Hub repo {repo_id!r}: {error}{kept}") from error


def _is_weights(path: str) -> bool:
    return "/" not in path and (path == ADAPTER_WEIGHTS_NAME or path.startswith(FULL_WEIGHTS_PREFIXES))


def _stale_weights(api: Any, repo_id: str, revision: str | None, token: Any, directory: str) -> list[Any]:
    """Deletions for weight files of the repo that the new checkpoint does not have, e.g. `model.safetensors` when
    an adapter-only checkpoint replaces a full one (it would otherwise be loaded instead of the adapter)."""
    local = {path for path in file_times(directory) if _is_weights(path)}
    if not local:
        return []
    try:
        remote = api.list_repo_files(repo_id, revision=revision, token=token)
    except RevisionNotFoundError:
        return []
    return [CommitOperationDelete(path_in_repo=path) for path in remote if _is_weights(path) and path not in local]


def _push_error(action: str, repo_id: str, error: HfHubHTTPError, local_dir: str | None) -> OSError:
    status = error.response.status_code if getattr(error, "response", None) is not None else None
    causes = {
        401: "the Hub did not accept the credentials (401 Unauthorized); log in with `hf auth login` or pass a "
        "valid `token=`",
        403: "the token is not allowed to write there (403 Forbidden); use a token with write access to this "
        "namespace, or push to a namespace you own",
    }
    cause = causes.get(status, f"the Hub answered {status}" if status else str(error).splitlines()[0])
    server = getattr(error, "server_message", None)
    detail = f' Server message: "{server}".' if server else ""
    kept = f" The checkpoint is still saved in {local_dir}." if local_dir else " No local file was changed."
    return OSError(f"Could not {action} the Hub repo {repo_id!r}: {cause}.{detail}{kept}")


__all__ = ["create_hub_repo", "download_card", "file_times", "upload_files"]
