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
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from generators.config import GenerateConfig
from generators.tasks.prompts import PromptLibrary, load_topics
from generators.llm.cache import RequestCache
from generators.tasks.samples import build_rows, first_request, plan_round, repair_request, vote_requests, vote_rows
from generators.tasks.seeds import load_code_tasks, load_corpus_documents, load_problems
from generators.llm.server import Endpoint
from generators.llm.usage import RoundUsage, sample_key_of
from generators.verification import CandidatesStage, Verifier, funnel_of, repairable_failures, replace_rows
from pipeline.io import fsutil
from pipeline.config import ConfigError, InputConfig, PipelineConfig, RunConfig, StageSpec, build_stage, project_root
from pipeline.run.local import Progress, stderr_progress
from pipeline.manifest import write_manifest, write_stats
from pipeline.run.plan import RunError
from pipeline.stats import RunStats
from pipeline.io.writers import FileEntry

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
            output_dir = str(Path(config.output.dir) / "synthetic")
            self.corpus_dirs = [config.output.dir]
        self.out = Path(output_dir)
        self.work = self.out / "_work" / "generate"
        self.progress = progress or (lambda message: None)
        self.overwrite = overwrite

    # ------------------------------------------------------------------ the run
    def run(self) -> GenerateResult:
        start = time.perf_counter()
        gen = self.gen
        self._open_work_dir()
        library = PromptLibrary.load(gen.prompt_templates)
        s = gen.seeds
        topics = load_topics(project_file(s.topics) if s.topics else None)
        wanted = list(s.corpus) or self.corpus_dirs
        corpus = [p for p in wanted if Path(p).exists()]
        for p in sorted(set(wanted) - set(corpus)):
            self.progress(f"[generate] seed corpus {p} not found: math seeds come from seeds.problems "
                          "(run the cleaning pipeline first to seed from its output)")
        documents = load_corpus_documents(corpus, text_field=s.corpus_text_field, min_chars=s.corpus_min_chars,
                                          max_chars=s.corpus_max_chars, min_math_score=s.corpus_min_math_score)
        problems = load_problems([project_file(p) for p in s.problems], problem_field=s.problem_field, answer_field=s.answer_field,
                                 lang_field=s.lang_field)
        code_tasks = load_code_tasks([project_file(p) for p in s.code_tasks])
        endpoint = Endpoint(gen, self.out / "logs", say=self.progress)
        self.progress(endpoint.header())
        cache = RequestCache(gen.cache_path or self.work / "requests.sqlite")
        math_params = {"group_fields": ["gen_group"], "min_group_size": max(gen.self_consistency_k, 1), **gen.verify_math}
        verifier = Verifier(math_params, gen.verify_code, file=self.config.source_file)
        rounds: list[dict] = []
        try:
            generate = self._generator(endpoint, cache)
            for r in range(gen.rounds):
                marker = self.work / f"round-{r:03d}" / "done.json"
                if marker.exists():
                    rounds.append(json.loads(marker.read_text()))
                    self.progress(f"[generate round {r}] done in an earlier run, skipped")
                    continue
                plan = plan_round(gen.tasks, gen.languages, library, round_index=r, base_seed=gen.seed,
                                  documents=documents, problems=problems, topics=topics, model=endpoint.model,
                                  code_tasks=code_tasks)
                info = self._round(r, plan, generate, library, verifier, endpoint, rounds)
                marker.with_suffix(".tmp").write_text(json.dumps(info, indent=1))
                os.replace(marker.with_suffix(".tmp"), marker)  # a round is done only when its marker is whole
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
        round_dir = self.work / f"round-{r:03d}"
        cand = self._write_candidates(round_dir, r, table, dead)
        result = self._filter(r, cand, round_dir, earlier)
        files = self._publish(round_dir / "out", result.files)
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
    def _write_candidates(self, round_dir: Path, r: int, table: pa.Table, dead) -> str:
        round_dir.mkdir(parents=True, exist_ok=True)
        path = round_dir / f"round-{r:03d}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
        if dead:
            letters = pa.table({
                "sample_id": [s.sample_id for s, _ in dead], "request_key": [x.key for _, x in dead],
                "attempts": pa.array([x.attempts for _, x in dead], pa.int32()), "error": [x.error for _, x in dead],
                "messages": [json.dumps(s.messages, ensure_ascii=False) for s, _ in dead]})
            target = self.out / "dead_letters" / f"round-{r:03d}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(letters, target.with_suffix(".tmp"))
            os.replace(target.with_suffix(".tmp"), target)
        return str(path)

    def _filter(self, r: int, candidates: str, round_dir: Path, earlier: list[dict]):
        """The crawl's own filter stages over this round's candidates, through the local runner."""
        from pipeline.run.local import run_local

        cfg = self.config
        previous = list(cfg.run.previous_outputs) + self.corpus_dirs + [str(self.work / f"round-{e['round']:03d}" / "out") for e in earlier]
        derived = _RoundConfig(
            input=InputConfig(paths=[candidates], format="parquet", batch_size=cfg.input.batch_size),
            output=replace(cfg.output, dir=str(round_dir / "out")),
            run=RunConfig(engine="local", work_dir=str(round_dir / "filter_work"), max_error_rate=cfg.run.max_error_rate,
                          previous_outputs=previous),
            stages=[StageSpec(CandidatesStage.name, {}), *cfg.stages], source_file=cfg.source_file,
            raw={"generate_round": r, "stages": cfg.raw.get("stages"), "output": cfg.raw.get("output"),
                 "previous_outputs": previous, "candidates": Path(candidates).name},
        )
        # The engine's per-file lines name the round's internal candidates file under _work/ and
        # count earlier steps' rejections as the last stage's; the round prints its own funnel line.
        # A round is resumed as a whole (its done.json): a killed round rewrites its candidates,
        # so its filter run starts afresh rather than resuming over a changed input file.
        return run_local(derived, progress=None, overwrite=True)

    def _publish(self, round_out: Path, files: list[FileEntry]) -> list[FileEntry]:
        """Hard-link (or copy) the round's outputs into OUT/data, OUT/rejects, OUT/errors."""
        for f in files:
            src, dst = round_out / f.path, self.out / f.path
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():
                dst.unlink()
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
        return list(files)

    def _finish(self, rounds: list[dict], endpoint: Endpoint, seconds: float) -> GenerateResult:
        total = RunStats()
        files: list[FileEntry] = []
        for info in rounds:
            total.merge(RunStats.from_dict(info["stats"]))
            files += [FileEntry(**f) for f in info["files"]]
        total.seconds = seconds
        fs, out_dir = fsutil.filesystem_for(str(self.out))
        summary = {"generate": {"endpoint": endpoint.describe(), "rounds": [
            {k: v for k, v in info.items() if k not in ("files", "stats")} for info in rounds]}}
        write_stats(fs, out_dir, total, self.config, engine="local", extra=summary)
        write_manifest(fs, out_dir, files, self.config, extra={"generate": {"model": endpoint.model,
                                                                            "rounds": len(rounds)}})
        return GenerateResult(str(self.out), total, rounds, files)

    def _open_work_dir(self) -> None:
        run_file = self.work / "run.json"
        if self.overwrite:
            for name in (*OUTPUT_KINDS, "dead_letters"):
                shutil.rmtree(self.out / name, ignore_errors=True)
            for d in self.work.glob("round-*"):
                shutil.rmtree(d, ignore_errors=True)
            run_file.unlink(missing_ok=True)  # the request cache is kept: it is keyed by content
        self.work.mkdir(parents=True, exist_ok=True)
        digest = self.config.config_hash()
        if run_file.exists():
            previous = json.loads(run_file.read_text()).get("config_hash")
            if previous != digest:
                raise RunError(f"{self.out} holds a generate run of a different config "
                               f"({str(previous)[:12]} != {digest[:12]}); use a new --output dir or --overwrite")
        else:
            run_file.write_text(json.dumps({"config_hash": digest}))


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
    """A config's file path: as given if it exists (from the cwd), else under the project root."""
    if Path(path).exists():
        return path
    candidate = project_root() / path
    if candidate.exists():
        return str(candidate)
    raise ConfigError(f"file not found: {path}", stage="generate", key="seeds")


@dataclass
class _RoundConfig(PipelineConfig):
    """The config of a round's filter run: the loop's ``CandidatesStage`` first (it is not a
    registered stage: it only makes sense on a candidates file), then the config's stages."""

    def build_stages(self) -> list[object]:
        rest = [build_stage(s.name, s.params, file=self.source_file) for s in self.stages[1:]]
        return [CandidatesStage(), *rest]


def run_generate(config: PipelineConfig, *, output_dir: str | None = None, progress: Progress | None = stderr_progress,
                 overwrite: bool = False) -> GenerateResult:
    """Run the synthetic loop of ``config`` (its ``generate:`` section) and write its outputs.

    ``output_dir`` None means "right after ``taosha run`` of the same config": the outputs go
    to ``OUTPUT/synthetic``, the cleaned ``OUTPUT`` seeds the math task (unless
    ``seeds.corpus`` is set) and the dedup stage also checks against ``OUTPUT``'s index.
    ``taosha generate`` always passes an explicit dir."""
    return GenerateLoop(config, output_dir=output_dir, progress=progress, overwrite=overwrite).run()
