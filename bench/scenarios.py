"""The order of a benchmark run: scenarios on 10^3 tokens, issuance, lifecycle operations,
then introspection again on 10^6 tokens, with the bare baseline first and last."""

from __future__ import annotations

import time

from flask_migrate import upgrade

from bench import lifecycle, seed
from bench.bulk import analyze, load_tokens, token_count
from server import create_app
from server.extensions import db


def run_all(bench, server, bare) -> None:
    from bench.run import ACTIVE, AUDIENCE, SCENARIOS

    args = bench.args
    only = {key for key in args.only.split(",") if key}

    def want(key: str) -> bool:
        return not only or key in only or key.split("@")[0] in only

    app = create_app()
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        world = seed.seed(app)
        analyze()
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
        bench.results["tokens_small"] = {"count": token_count()}
        db.session.rollback()

        bare.start()
        server.start()
        workers = server.workers()

        def run(key, scenario, lines, auth=""):
            if want(key):
                if scenario.target == "bare":
                    bench.run(key, scenario, bare.url, lines, auth, meter_pids=bare.pids())
                else:
                    bench.run(key, scenario, server.url, lines, auth, workers, server.pids())

        run("bare", SCENARIOS["bare"], lambda n: [f"\ttoken={'x' * 47}"])
        small = bench.results["tokens_small"]["count"]
        rs = world.resource_server
        run(
            f"introspect_active@{small}",
            ACTIVE,
            lambda n: seed.token_lines(world.active_tokens),
            rs,
        )
        # Side by side with the line above: the audience check must cost (almost) nothing.
        run(
            f"introspect_audience@{small}",
            AUDIENCE,
            lambda n: seed.token_lines(world.audience_tokens),
            world.audience_server,
        )
        run(
            "introspect_suspended",
            SCENARIOS["introspect_suspended"],
            lambda n: seed.token_lines(world.suspended_tokens),
            rs,
        )
        run(
            f"floor_introspect@{small}",
            SCENARIOS["floor_introspect"],
            lambda n: seed.token_lines(world.active_tokens),
        )
        unknown = seed.unknown_lines(1000)
        run(f"introspect_unknown@{small}", SCENARIOS["introspect_unknown"], lambda n: unknown, rs)
        run("floor_issue", SCENARIOS["floor_issue"], lambda n: seed.floor_issue_lines(world, n))
        audience = server.url.split("://", 1)[1]
        run("jwt", SCENARIOS["jwt"], lambda n: seed.assertion_lines(world, audience, n))
        run("code", SCENARIOS["code"], lambda n: seed.code_lines(app, world, n), world.web_auth)
        run(
            "refresh",
            SCENARIOS["refresh"],
            lambda n: seed.refresh_lines(app, world, n),
            world.web_auth,
        )
        devices = seed.device_lines(app, world, 20000) if want("device") else []
        run("device", SCENARIOS["device"], lambda n: devices)

        if want("lifecycle"):
            lifecycle.measure(app, world.user_id, 10, "warm-up")
            for count in (int(c) for c in args.lifecycle.split(",")):
                started = time.perf_counter()
                bench.results[f"lifecycle@{count}"] = lifecycle.measure(
                    app, world.user_id, count, str(count)
                )
                print(
                    f"lifecycle with {count} tokens: done in {time.perf_counter() - started:.1f} s"
                )
                failed = [
                    op for op, r in bench.results[f"lifecycle@{count}"].items() if not r["ok"]
                ]
                if failed:
                    bench.failures.append(f"lifecycle@{count}: wrong answer after {failed}")

        missing = args.bulk - token_count()
        db.session.rollback()
        if missing > 0 and (want("introspect_active") or want("introspect_unknown")):
            started = time.perf_counter()
            # Three in four OBO tokens, one in four AppAuth, as in the small set.
            sample = load_tokens(world.web_context, missing * 3 // 4, keep=600)
            sample += load_tokens(
                world.service_context, missing - missing * 3 // 4, keep=200, prefix="czs_"
            )
            analyze()
            large = token_count()
            db.session.rollback()
            bench.results["tokens_large"] = {"count": large}
            print(f"bulk-loaded {missing} tokens in {time.perf_counter() - started:.1f} s")
            run(f"introspect_active@{large}", ACTIVE, lambda n: seed.token_lines(sample), rs)
            run(
                f"introspect_unknown@{large}",
                SCENARIOS["introspect_unknown"],
                lambda n: unknown,
                rs,
            )
        if want("bare"):
            run("bare@end", SCENARIOS["bare"], lambda n: [f"\ttoken={'x' * 47}"])
        if args.matrix:
            matrix(bench, world, [k for k in args.matrix.split(",") if k])


def matrix(bench, world, kinds: list[str]) -> None:
    """Bare and introspection of an active token on each server, without and with keep-alive,
    one server at a time (the main table's servers stay idle meanwhile)."""
    from bench.run import ACTIVE, SCENARIOS

    for kind in kinds:
        pair = [bench.server("bench.bare:app", kind, "bare"), bench.server("wsgi:app", kind, "app")]
        try:
            for server in pair:
                server.start()
            for keepalive in (False, True):
                mode = "keep-alive" if keepalive else "close"
                for server, scenario, lines, auth in (
                    (pair[0], SCENARIOS["bare"], lambda n: [f"\ttoken={'x' * 47}"], ""),
                    (
                        pair[1],
                        ACTIVE,
                        lambda n: seed.token_lines(world.active_tokens),
                        world.resource_server,
                    ),
                ):
                    key = f"{kind}/{mode}/{scenario.name}"
                    bench.run(
                        key,
                        scenario,
                        server.url,
                        lines,
                        auth,
                        server.workers(),
                        server.pids(),
                        keepalive=keepalive,
                    )
                    bench.matrix[key] = bench.results.pop(key)
        finally:
            for server in pair:
                server.stop()
