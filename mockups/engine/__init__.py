"""The build engine: the content-addressed cache, the plan (what is stale and why), the runner
(workers, rate limit, retries, budget), finished outputs, the manifest, and the pipeline that
strings them together (`pipeline.prepare` / `pipeline.build`).

May import: errors, catalog, matrix, prompts, jobs, backends (through `backends.base` only), imaging
(for encoding outputs). The review layer is reached only from `pipeline`, for the contact sheets,
overlays and gallery a build draws.
"""
