#!/usr/bin/env python3
"""Download the production models into models/, on a CONNECTED machine, for the bundle.

    python3 scripts/fetch_models.py                 # Llama-3.1-8B-Instruct Q4_K_M + bge-small
    python3 scripts/fetch_models.py --verify        # re-hash everything models/SHA256SUMS lists

Python's standard library only: plain HTTPS from huggingface.co (`<base>/<repo>/resolve/
<revision>/<file>`), resumed with HTTP Range requests after a broken connection (a `.part`
file is kept between runs), several retries with back-off, and a sha256 check against the
hub's `X-Linked-Etag` when it sends one. `--hub` downloads through huggingface_hub instead
(proxies, mirrors, its cache), if that is installed. A token for gated repos: HF_TOKEN or
--token.

Layout: the GGUF goes to models/generator/<file>, the embedder's ONNX file to
models/<name>/model.onnx with its four tokenizer files beside it. models/SHA256SUMS
(`sha256sum` format, paths relative to models/) gets a line per file, other lines are kept;
`appliance models verify` and the appliance's start-up check it. At the end the script prints
the lines to put into appliance.yaml.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKSUMS = "SHA256SUMS"
HUB = "https://huggingface.co"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "config.json",
    "special_tokens_map.json",
)
CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FetchError(Exception):
    """A download failed for good, or a file does not match its checksum."""


@dataclass(frozen=True)
class Remote:
    repo: str  # e.g. bartowski/Meta-Llama-3.1-8B-Instruct-GGUF
    path: str  # file inside the repo, e.g. onnx/model.onnx
    target: str  # where it goes, relative to models/


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- the SHA256SUMS manifest


def read_sums(models: Path) -> dict[str, str]:
    """{relative path: sha256} from models/SHA256SUMS ({} when there is none)."""
    sums = {}
    path = models / CHECKSUMS
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.strip().partition("  ")
            if digest and name:
                sums[name.lstrip("*")] = digest.lower()
    return sums


def write_sums(models: Path, sums: dict[str, str]) -> None:
    """Write models/SHA256SUMS atomically, sorted, in `sha256sum` format."""
    path = models / CHECKSUMS
    tmp = path.with_name(CHECKSUMS + ".tmp")
    tmp.write_text("".join(f"{sums[n]}  {n}\n" for n in sorted(sums)), encoding="utf-8")
    os.replace(tmp, path)


def verify(models: Path, report: Callable[[str], None] = print) -> list[str]:
    """Re-hash every file SHA256SUMS lists; the problems as sentences ([] = all good)."""
    sums = read_sums(models)
    if not sums:
        return [f"{models / CHECKSUMS} is missing or empty"]
    problems = []
    for name, digest in sorted(sums.items()):
        path = models / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif sha256_of(path) != digest:
            problems.append(f"{name}: sha256 does not match {CHECKSUMS}")
        else:
            report(f"ok       {name}")
    return problems


# ---------------------------------------------------------------- plain HTTPS, resumable


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects (the hub sends LFS files to its CDN), remembering the hub's
    X-Linked-Etag (the file's sha256) and never sending the token to another host."""

    def __init__(self) -> None:
        self.linked_etag = ""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        etag = (headers.get("X-Linked-Etag") or "").strip('"').lower()
        if etag:
            self.linked_etag = etag
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if (
            new is not None
            and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc
        ):
            new.remove_header("Authorization")
        return new


def download(
    url: str,
    target: Path,
    *,
    token: str = "",
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    report: Callable[[str], None] = print,
) -> str:
    """Download url to target, resuming target.part; returns the file's sha256.

    A connection that breaks is retried (with a Range request for the rest) up to `retries`
    times; a server that ignores Range makes it start over. When the server names the file's
    sha256 (X-Linked-Etag), a mismatch deletes the download and raises FetchError.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    attempt = 0
    while True:
        try:
            expected = _fetch_once(url, part, token, timeout, report)
            break
        except (OSError, http.client.HTTPException) as err:  # HTTP 5xx, resets, short reads
            if isinstance(err, urllib.error.HTTPError) and err.code < 500 and err.code != 429:
                raise FetchError(f"{url}: HTTP {err.code} {err.reason}") from None
            attempt += 1
            if attempt > retries:
                raise FetchError(f"{url}: giving up after {retries} retries ({err})") from None
            have = part.stat().st_size if part.exists() else 0
            report(f"retry    {target.name} in {backoff * attempt:.0f}s ({err}); have {have} bytes")
            time.sleep(backoff * attempt)
    digest = sha256_of(part)
    if expected and digest != expected:
        part.unlink()
        raise FetchError(
            f"{url}: downloaded file has sha256 {digest}, the server says {expected}; deleted"
        )
    os.replace(part, target)
    return digest


def _fetch_once(url: str, part: Path, token: str, timeout: float, report) -> str:
    """One request: the whole file, or the rest of it after `part`. Returns the sha256 the
    server announced ("" when none)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "appliance-fetch-models/1"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if have:
        request.add_header("Range", f"bytes={have}-")
    redirects = _Redirects()
    opener = urllib.request.build_opener(redirects)
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left after `have`: the .part is complete
            etag = (err.headers.get("X-Linked-Etag") or "").strip('"').lower()
            return _checked_etag(redirects.linked_etag or etag)
        raise
    with response:
        etag = (response.headers.get("X-Linked-Etag") or "").strip('"').lower()
        expected = _checked_etag(redirects.linked_etag or etag)
        if have and response.status == 206:
            report(f"resume   {part.name[: -len('.part')]} from byte {have}")
            mode = "ab"
        else:
            mode = "wb"  # a fresh download, or a server that ignored the Range header
        start = have if mode == "ab" else 0
        with part.open(mode) as out:
            shutil.copyfileobj(response, out, CHUNK)
        length = response.headers.get("Content-Length")
        if length is not None and part.stat().st_size - start != int(length):
            got = part.stat().st_size - start
            raise ConnectionError(f"short read: {got} of {length} bytes")
    return expected


def _checked_etag(etag: str) -> str:
    return etag if _SHA256.match(etag) else ""


def _hub_download(remote: Remote, models: Path, revision: str, token: str) -> str:
    from huggingface_hub import hf_hub_download  # optional; only with --hub

    with_tmp = models / ".hub-download"
    got = Path(
        hf_hub_download(
            remote.repo, remote.path, revision=revision, token=token or None, local_dir=with_tmp
        )
    )
    target = models / remote.target
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(got, target)
    return sha256_of(target)


# ---------------------------------------------------------------- what to fetch


def plan(args: argparse.Namespace) -> list[tuple[Remote, str]]:
    """(remote file, revision) for every file to fetch, with its place under models/."""
    files: list[tuple[Remote, str]] = []
    if not args.skip_generator:
        name = Path(args.generator_file).name
        files.append(
            (Remote(args.generator_repo, args.generator_file, f"generator/{name}"), args.revision)
        )
    if not args.skip_embedder:
        folder = args.embedder_name or args.embedder_repo.rsplit("/", 1)[-1]
        files.append(
            (
                Remote(args.embedder_repo, args.embedder_onnx, f"{folder}/model.onnx"),
                args.embedder_revision,
            )
        )
        for name in TOKENIZER_FILES:
            files.append(
                (Remote(args.embedder_repo, name, f"{folder}/{name}"), args.embedder_revision)
            )
    return files


def fetch(args: argparse.Namespace, report: Callable[[str], None] = print) -> dict[str, str]:
    """Fetch every planned file that is not already there and verified; update SHA256SUMS
    after each one (so an interrupted run keeps what it finished). Returns {target: sha256}."""
    models: Path = args.models
    models.mkdir(parents=True, exist_ok=True)
    sums = read_sums(models)
    done = {}
    for remote, revision in plan(args):
        target = models / remote.target
        if target.is_file() and sums.get(remote.target) == sha256_of(target):
            report(f"ok       {remote.target}")
            done[remote.target] = sums[remote.target]
            continue
        url = f"{args.base_url.rstrip('/')}/{remote.repo}/resolve/{revision}/{remote.path}"
        report(f"fetch    {remote.target} <- {url}")
        if args.hub:
            digest = _hub_download(remote, models, revision, args.token)
        else:
            digest = download(
                url,
                target,
                token=args.token,
                retries=args.retries,
                backoff=args.backoff,
                timeout=args.timeout,
                report=report,
            )
        sums[remote.target] = digest
        write_sums(models, sums)
        done[remote.target] = digest
        report(f"placed   {remote.target}  {digest}")
    return done


def config_lines(args: argparse.Namespace) -> str:
    lines = []
    if not args.skip_generator:
        name = Path(args.generator_file).name
        lines += ["generator:", f"  model: generator/{name}"]
    if not args.skip_embedder:
        folder = args.embedder_name or args.embedder_repo.rsplit("/", 1)[-1]
        lines += [
            "embedder:",
            f"  model_dir: {folder}",
            "  model_file: model.onnx",
            f"  dim: {args.embedder_dim}",
            f"  pooling: {args.embedder_pooling}",
        ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=Path, default=ROOT / "models", help="default: ./models")
    p.add_argument("--verify", action="store_true", help="only re-hash what SHA256SUMS lists")
    p.add_argument("--base-url", default=os.environ.get("HF_ENDPOINT", HUB))
    p.add_argument("--token", default=os.environ.get("HF_TOKEN", ""), help="or HF_TOKEN")
    p.add_argument("--hub", action="store_true", help="download through huggingface_hub")
    p.add_argument("--generator-repo", default="bartowski/Meta-Llama-3.1-8B-Instruct-GGUF")
    p.add_argument("--generator-file", default="Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")
    p.add_argument("--revision", default="main", help="generator repo revision (commit/tag)")
    p.add_argument("--embedder-repo", default="Xenova/bge-small-en-v1.5")
    p.add_argument("--embedder-onnx", default="onnx/model.onnx", help="ONNX file in the repo")
    p.add_argument("--embedder-revision", default="main")
    p.add_argument("--embedder-name", default="", help="folder under models/ (default: repo)")
    p.add_argument("--embedder-dim", type=int, default=384, help="printed for appliance.yaml")
    p.add_argument("--embedder-pooling", default="cls", choices=["cls", "mean"])
    p.add_argument("--skip-generator", action="store_true")
    p.add_argument("--skip-embedder", action="store_true")
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--backoff", type=float, default=2.0, help="seconds, times the attempt")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds without data")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.verify:
        problems = verify(args.models)
        for problem in problems:
            print(f"problem: {problem}", file=sys.stderr)
        print("all files match SHA256SUMS" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    try:
        fetch(args)
    except FetchError as err:
        print(f"error: {err}", file=sys.stderr)
        print("run the same command again: finished files are kept, .part files resume")
        return 1
    print(f"\nmodels in {args.models}, checksums in {args.models / CHECKSUMS}.")
    print("Put these lines into appliance.yaml (then recalibrate retrieval.min_relevance):\n")
    print(config_lines(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
