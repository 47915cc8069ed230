"""The synthetic loop driver behind ``taosha generate CONFIG``.

Each round: seeds -> prompts -> generation (cached, retried, dead-lettered) -> parse ->
verify (``verify_math`` / ``verify_code``) -> repair of failures with the error fed back
(``repair_tries`` times) -> the config's own filter stages (langid, heuristics, classify,
dedup against ``run.previous_outputs`` and earlier rounds) run by ``pipeline.run.local``
over the round's candidates -> accepted rows in ``OUT/data``, every other candidate in
``OUT/rejects`` with its reason. ``manifest.json`` lists all shards; ``stats.json`` holds the
run's accounting plus a funnel per round.

Resumable: a finished round leaves a marker and is skipped; an unfinished round is redone,
and the request cache makes that cheap (finished calls replay with zero requests, and a
fully cached rerun never starts the managed server).

``OUT`` is a URI like every output of the engine (a local path, ``s3://``, ``gs://``): every
file the loop writes goes through ``pipeline.fsutil`` (temp name, then rename), and the round's
filter run is an ordinary engine run over URIs. Two files need a local disk: the SQLite
request cache and the managed server's log. With a local ``OUT`` they are
``OUT/_work/generate/requests.sqlite`` and ``OUT/logs/``; with ``OUT`` on object storage they
live in a temp dir, the cache is downloaded from ``OUT/_work/generate/requests.sqlite`` when
there is one and uploaded there before each round's marker (so a finished round's requests
replay on any machine; the answers of a killed round are asked again), and the log is
uploaded to ``OUT/logs/`` at the end. ``generate.cache_path``, when set, is a local file
used as is.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from generators.config import GenerateConfig
from generators.tasks.prompts import PromptLibrary, load_topics
from generators.llm.cache import RequestCache
from generators.tasks.samples import build_rows, first_request, plan_round, repair_request, vote_requests, vote_rows
from generators.tasks.seeds import load_code_tasks, load_corpus_documents, load_problems
from generators.llm.server import Endpoint, ServerCrashed, ServerStartError
from generators.llm.usage import RoundUsage, sample_key_of
from generators.verification import CandidatesStage, Verifier, funnel_of, repairable_failures, replace_rows
from pipeline import (ConfigError, FileEntry, InputConfig, PipelineConfig, Progress, RunConfig, RunError, RunStats,
                      StageSpec, fsutil, project_root, run_config, stderr_progress, write_manifest, write_stats)

OUTPUT_KINDS = ("data", "rejects", "errors")


@dataclass
class GenerateResult:
    output_dir: str
    stats: RunStats
    rounds: list[dict] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)


class GenerateLoop:
    def __init__(self, config: PipelineConfig, *, output_dir: str | None = None, progress: Progress | None = stderr_progress,
                 overwrite: bool = False):
        if config.generate is None:
            raise ConfigError("the config has no generate: section", file=config.source_file, stage="generate")
        self.config = config
        self.gen: GenerateConfig = config.generate
        self.corpus_dirs: list[str] = []
        if output_dir is None:  # after a cleaning run of the same config: seed from it, dedup against it
            output_dir = fsutil.join(config.output.dir, "synthetic")
            self.corpus_dirs = [config.output.dir]
        # OUT as given (a URI or a local path, relative ones stay relative in what the loop prints and
        # passes on), and the filesystem with OUT's path inside it for the loop's own reads and writes
        self.output_dir = output_dir.rstrip("/") if "://" in output_dir else str(Path(output_dir))
        self.fs, self.root = fsutil.filesystem_for(self.output_dir)
        self.progress = progress or (lambda message: None)
        self.overwrite = overwrite
        self._staging: str | None = None  # the local temp dir when OUT is not on the local disk

    # ------------------------------------------------------------------ where things are
    def _path(self, *parts: str) -> str:
        """``OUT/parts`` inside ``self.fs``."""
        return fsutil.join(self.root, *parts)

    def _uri(self, *parts: str) -> str:
        """``OUT/parts`` as a URI (what the engine is given)."""
        return fsutil.join(self.output_dir, *parts)

    def _work(self, *parts: str) -> str:
        return self._path("_work", "generate", *parts)

    @property
    def _remote(self) -> bool:
        return not isinstance(self.fs, pafs.LocalFileSystem)

    def _local_dir(self, name: str) -> Path:
        """A local folder for what needs a local disk: ``OUT/<name>`` when OUT is local, else one
        in the run's temp dir (copied to OUT by :meth:`_save_cache` and :meth:`_upload_logs`)."""
        if not self._remote:
            return Path(self.output_dir) / name
        if self._staging is None:
            self._staging = tempfile.mkdtemp(prefix="taosha-generate-")
        return Path(self._staging) / name

    def _cache_file(self) -> Path:
        if self.gen.cache_path:
            return Path(self.gen.cache_path)
        local = self._local_dir("_work") / "generate" / "requests.sqlite"
        if self._remote and not local.exists():  # resume on any machine: start from the uploaded copy
            remote = self._work("requests.sqlite")
            if fsutil.exists(self.fs, remote):
                local.parent.mkdir(parents=True, exist_ok=True)
                with self.fs.open_input_stream(remote) as src:
                    local.write_bytes(src.read())
        return local

    def _save_cache(self, cache: RequestCache) -> None:
        """Upload a copy of the request cache to ``OUT/_work/generate/`` (OUT on object storage)."""
        if not self._remote or self.gen.cache_path:
            return
        copy = self._local_dir("_work") / "generate" / "requests.sqlite.copy"
        cache.save_copy(copy)
        fsutil.write_bytes_atomic(self.fs, self._work("requests.sqlite"), copy.read_bytes())
        copy.unlink()

    def _upload_logs(self) -> None:
        """The managed server's log to ``OUT/logs/`` (OUT on object storage), then the temp dir goes."""
        if self._staging is None:
            return
        logs = Path(self._staging) / "logs"
        for f in sorted(logs.glob("*")) if logs.is_dir() else []:
            fsutil.write_bytes_atomic(self.fs, self._path("logs", f.name), f.read_bytes())
        shutil.rmtree(self._staging, ignore_errors=True)
        self._staging = None

    # ------------------------------------------------------------------ the run
    def run(self) -> GenerateResult:
        try:
            return self._run()
        finally:
            self._upload_logs()

    def _run(self) -> GenerateResult:
        start = time.perf_counter()
        gen = self.gen
        self._open_work_dir()
        library = PromptLibrary.load(gen.prompt_templates)
        s = gen.seeds
        topics = load_topics(project_file(s.topics) if s.topics else None)
        wanted = list(s.corpus) or self.corpus_dirs
        corpus = [p for p in wanted if fsutil.exists(*fsutil.filesystem_for(p))]
        for p in sorted(set(wanted) - set(corpus)):
            self.progress(f"[generate] seed corpus {p} not found: math seeds come from seeds.problems "
                          "(run the cleaning pipeline first to seed from its output)")
        documents = load_corpus_documents(corpus, text_field=s.corpus_text_field, min_chars=s.corpus_min_chars,
                                          max_chars=s.corpus_max_chars, min_math_score=s.corpus_min_math_score)
        problems = load_problems([project_file(p) for p in s.problems], problem_field=s.problem_field, answer_field=s.answer_field,
                                 lang_field=s.lang_field)
        code_tasks = load_code_tasks([project_file(p) for p in s.code_tasks])
        endpoint = Endpoint(gen, self._local_dir("logs"), say=self.progress)
        self.progress(endpoint.header())
        cache = RequestCache(self._cache_file())
        math_params = {"group_fields": ["gen_group"], "min_group_size": max(gen.self_consistency_k, 1), **gen.verify_math}
        verifier = Verifier(math_params, gen.verify_code, file=self.config.source_file)
        rounds: list[dict] = []
        try:
            generate = self._generator(endpoint, cache)
            for r in range(gen.rounds):
                marker = self._work(f"round-{r:03d}", "done.json")
                if fsutil.exists(self.fs, marker):
                    rounds.append(fsutil.read_json(self.fs, marker))
                    self.progress(f"[generate round {r}] done in an earlier run, skipped")
                    continue
                plan = plan_round(gen.tasks, gen.languages, library, round_index=r, base_seed=gen.seed,
                                  documents=documents, problems=problems, topics=topics, model=endpoint.model,
                                  code_tasks=code_tasks)
                try:
                    info = self._round(r, plan, generate, library, verifier, endpoint, rounds)
                except (ServerCrashed, ServerStartError) as exc:
                    raise RunError(f"[generate round {r}] {exc}") from exc
                self._save_cache(cache)
                fsutil.write_json_atomic(self.fs, marker, info)  # a round is done only when its marker is whole
                rounds.append(info)
        finally:
            endpoint.close()
            cache.close()
        return self._finish(rounds, endpoint, time.perf_counter() - start)

    def _generator(self, endpoint: Endpoint, cache: RequestCache):
        if self.config.run.engine == "ray":
            from generators.llm.ray_client import RayGenerator

            return RayGenerator(self.gen.client, model=endpoint.model, base_url=endpoint.base_url, cache=cache,
                                num_actors=self.config.run.num_workers or 2, ray_address=self.config.run.ray_address,
                                progress=self.progress)
        from generators.llm.client import ChatClient

        return ChatClient(self.gen.client, model=endpoint.model, base_url=endpoint.base_url, cache=cache,
                          progress=self.progress)

    def _round(self, r: int, plan, generate, library: PromptLibrary, verifier: Verifier, endpoint: Endpoint,
               earlier: list[dict]) -> dict:
        t0 = time.perf_counter()
        before = generate.stats.as_dict()
        tag = f"[generate round {r}]"
        usage = RoundUsage(sample_key_of(plan))
        ask = lambda requests, label: usage.run(generate, requests, label)  # noqa: E731 - booked per task/lang
        self.progress(f"{tag} {len(plan)} samples ({plan_summary(plan)}): requesting {endpoint.model}")
        results = ask([first_request(s) for s in plan], f"{tag} answers")
        endpoint.check_alive()  # a crashed server turns every answer into a dead letter: say so instead
        table = self._verify(build_rows(plan, results, model=endpoint.model, round_index=r), plan, ask,
                             library, verifier, tag)
        self.progress(f"{tag} verified: {verify_summary(table)}")
        dead = [(plan[i], res) for i, res in enumerate(results) if res.status == "dead"]
        repairs = []
        for attempt in range(1, self.gen.repair_tries + 1):
            failures = repairable_failures(table)
            if not failures:
                break
            samples = [plan[i] for i, _, _ in failures]
            requests = [repair_request(plan[i], library, etype, msg, self.gen.seed) for i, etype, msg in failures]
            self.progress(f"{tag} repair {attempt}: {len(requests)} failed samples sent back with their errors")
            res = ask(requests, f"{tag} repair {attempt}")
            dead += [(s, x) for s, x in zip(samples, res) if x.status == "dead"]
            fixed = self._verify(build_rows(samples, res, model=endpoint.model, round_index=r), samples, ask,
                                 library, verifier, tag)
            rescued = fixed["drop_reason"].null_count
            repairs.append({"try": attempt, "sent": len(requests), "rescued": rescued})
            self.progress(f"{tag} repair {attempt}: {rescued} of {len(requests)} now pass verification")
            table = replace_rows(table, [i for i, _, _ in failures], fixed)
        round_dir = ("_work", "generate", f"round-{r:03d}")
        cand = self._write_candidates(round_dir, r, table, dead)
        result = self._filter(r, cand, round_dir, earlier)
        files = self._publish(self._path(*round_dir, "out"), result.files)
        client_stats = {k: (v - before[k] if isinstance(v, int) else
                            {why: n - before[k].get(why, 0) for why, n in v.items() if n - before[k].get(why, 0)})
                        for k, v in generate.stats.as_dict().items()}  # this round's share
        funnel = funnel_of(table, result.stats)
        self.progress(f"{tag} filters: " + ", ".join(f"{s['step']} {s['rows_in']}->{s['kept']}" for s in funnel[3:]))
        self.progress(f"{tag} {len(plan)} planned -> {result.stats.kept} kept ({time.perf_counter() - t0:.1f} s)")
        return {"round": r, "planned": len(plan), "kept": result.stats.kept, "funnel": funnel, "repairs": repairs,
                "client": client_stats, "usage": usage.to_dict(), "dead_letters": len(dead),
                "files": [f.to_dict() for f in files],
                "stats": result.stats.to_dict(), "seconds": round(time.perf_counter() - t0, 3)}

    def _verify(self, table: pa.Table, samples, ask, library: PromptLibrary, verifier: Verifier,
                tag: str = "[generate]") -> pa.Table:
        """Verify candidates; new problems first get k-1 independent solves to vote with
        (``ask(requests, label)`` sends them)."""
        requests = vote_requests(table, samples, library, self.gen.self_consistency_k, self.gen.seed)
        votes = vote_rows(requests, ask(requests, f"{tag} votes")) if requests else None
        return verifier(table, votes)

    # ------------------------------------------------------------------ outputs
    def _write_candidates(self, round_dir: tuple[str, ...], r: int, table: pa.Table, dead) -> str:
        """The round's candidates (``OUT/_work/generate/round-NNN/round-NNN.parquet``) and its
        dead letters (``OUT/dead_letters/round-NNN.parquet``); returns the candidates' URI."""
        fsutil.makedirs(self.fs, self._path(*round_dir))
        name = f"round-{r:03d}.parquet"
        fsutil.write_bytes_atomic(self.fs, self._path(*round_dir, name), _parquet_bytes(table, compression="zstd"))
        if dead:
            letters = pa.table({
                "sample_id": [s.sample_id for s, _ in dead], "request_key": [x.key for _, x in dead],
                "attempts": pa.array([x.attempts for _, x in dead], pa.int32()), "error": [x.error for _, x in dead],
                "messages": [json.dumps(s.messages, ensure_ascii=False) for s, _ in dead]})
            fsutil.makedirs(self.fs, self._path("dead_letters"))
            fsutil.write_bytes_atomic(self.fs, self._path("dead_letters", name), _parquet_bytes(letters))
        return self._uri(*round_dir, name)

    def _filter(self, r: int, candidates: str, round_dir: tuple[str, ...], earlier: list[dict]):
        """The crawl's own filter stages over this round's candidates: an ordinary local engine run
        (``pipeline.run_config``) with every path a URI under OUT."""
        cfg = self.config
        previous = (list(cfg.run.previous_outputs) + self.corpus_dirs
                    + [self._uri("_work", "generate", f"round-{e['round']:03d}", "out") for e in earlier])
        derived = PipelineConfig(
            input=InputConfig(paths=[candidates], format="parquet", batch_size=cfg.input.batch_size),
            output=replace(cfg.output, dir=self._uri(*round_dir, "out")),
            run=RunConfig(engine="local", work_dir=self._uri(*round_dir, "filter_work"),
                          max_error_rate=cfg.run.max_error_rate, previous_outputs=previous),
            stages=[StageSpec(CandidatesStage.name, {}), *cfg.stages], source_file=cfg.source_file,
            raw={"generate_round": r, "stages": cfg.raw.get("stages"), "output": cfg.raw.get("output"),
                 "previous_outputs": previous, "candidates": candidates.rsplit("/", 1)[-1]},
        )
        # The engine's per-file lines name the round's internal candidates file under _work/ and
        # count earlier steps' rejections as the last stage's; the round prints its own funnel line.
        # A round is resumed as a whole (its done.json): a killed round rewrites its candidates,
        # so its filter run starts afresh rather than resuming over a changed input file.
        return run_config(derived, progress=None, overwrite=True)

    def _publish(self, round_out: str, files: list[FileEntry]) -> list[FileEntry]:
        """Hard-link (or copy) the round's outputs into OUT/data, OUT/rejects, OUT/errors."""
        for f in files:
            dst = self._path(f.path)
            fsutil.makedirs(self.fs, dst.rsplit("/", 1)[0])
            fsutil.copy_file(self.fs, fsutil.join(round_out, f.path), dst)
        return list(files)

    def _finish(self, rounds: list[dict], endpoint: Endpoint, seconds: float) -> GenerateResult:
        total = RunStats()
        files: list[FileEntry] = []
        for info in rounds:
            total.merge(RunStats.from_dict(info["stats"]))
            files += [FileEntry(**f) for f in info["files"]]
        total.seconds = seconds
        fs, out_dir = self.fs, self.root
        described = endpoint.describe()
        if self._staging is not None and "log" in described:  # where the log will be once uploaded
            described["log"] = self._uri("logs", Path(described["log"]).name)
        summary = {"generate": {"endpoint": described, "rounds": [
            {k: v for k, v in info.items() if k not in ("files", "stats")} for info in rounds]}}
        write_stats(fs, out_dir, total, self.config, engine="local", extra=summary)
        write_manifest(fs, out_dir, files, self.config, extra={"generate": {"model": endpoint.model,
                                                                            "rounds": len(rounds)}})
        return GenerateResult(self.output_dir, total, rounds, files)

    def _open_work_dir(self) -> None:
        run_file = self._work("run.json")
        if self.overwrite:
            for name in (*OUTPUT_KINDS, "dead_letters"):
                _delete_dir(self.fs, self._path(name))
            for entry in _entries(self.fs, self._work()):
                if entry.base_name.startswith("round-") and entry.type == pafs.FileType.Directory:
                    _delete_dir(self.fs, entry.path)
            if fsutil.exists(self.fs, run_file):  # the request cache is kept: it is keyed by content
                self.fs.delete_file(run_file)
        fsutil.makedirs(self.fs, self._work())
        digest = self.config.config_hash()
        if fsutil.exists(self.fs, run_file):
            previous = fsutil.read_json(self.fs, run_file).get("config_hash")
            if previous != digest:
                raise RunError(f"{self.output_dir} holds a generate run of a different config "
                               f"({str(previous)[:12]} != {digest[:12]}); use a new --output dir or --overwrite")
        else:
            fsutil.write_json_atomic(self.fs, run_file, {"config_hash": digest})


def _parquet_bytes(table: pa.Table, **options) -> bytes:
    """``table`` as one Parquet file in memory (a round's candidates are small), for
    ``fsutil.write_bytes_atomic``."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **options)
    return sink.getvalue().to_pybytes()


def _entries(fs: pafs.FileSystem, directory: str) -> list[pafs.FileInfo]:
    """What is directly under ``directory`` (nothing when it does not exist)."""
    if not fsutil.exists(fs, directory):
        return []
    return fs.get_file_info(pafs.FileSelector(directory, recursive=False))


def _delete_dir(fs: pafs.FileSystem, directory: str) -> None:
    if fsutil.exists(fs, directory):
        fs.delete_dir(directory)


def plan_summary(plan) -> str:
    """``math_ref 8, code_ref 6`` -- what a round asks for, by task."""
    counts: dict[str, int] = {}
    for sample in plan:
        counts[sample.task] = counts.get(sample.task, 0) + 1
    return ", ".join(f"{task} {n}" for task, n in counts.items())


def verify_summary(table: pa.Table) -> str:
    """``9 of 14 pass; parse:no_answer 2, verify_math:wrong_answer 3`` (before any repair)."""
    reasons: dict[str, int] = {}
    for reason in table["drop_reason"].to_pylist():
        if reason:
            reasons[reason] = reasons.get(reason, 0) + 1
    head = f"{table['drop_reason'].null_count} of {table.num_rows} pass"
    top = sorted(reasons.items(), key=lambda kv: -kv[1])
    return head + ("; " + ", ".join(f"{r} {n}" for r, n in top) if top else "")


def project_file(path: str) -> str:
    """A config's file path: as given if it is a URI or exists (from the cwd), else under the project root."""
    if "://" in path or Path(path).exists():
        return path
    candidate = project_root() / path
    if candidate.exists():
        return str(candidate)
    raise ConfigError(f"file not found: {path}", stage="generate", key="seeds")


def run_generate(config: PipelineConfig, *, output_dir: str | None = None, progress: Progress | None = stderr_progress,
                 overwrite: bool = False) -> GenerateResult:
    """Run the synthetic loop of ``config`` (its ``generate:`` section) and write its outputs.

    ``output_dir`` None means "right after ``taosha run`` of the same config": the outputs go
    to ``OUTPUT/synthetic``, the cleaned ``OUTPUT`` seeds the math task (unless
    ``seeds.corpus`` is set) and the dedup stage also checks against ``OUTPUT``'s index.
    ``taosha generate`` always passes an explicit dir."""
    return GenerateLoop(config, output_dir=output_dir, progress=progress, overwrite=overwrite).run()
