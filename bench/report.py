"""The printed figures: one line per scenario as it finishes, then Markdown tables and the
targets (see bench/README.md), each figure beside the bare baseline measured in the same run."""

from __future__ import annotations

TARGETS = (
    # (result key prefix, least share of the baseline's req/s, most p99 as a multiple of the
    # baseline's p99 in the same run, most server CPU ms per request, the floor's key prefix:
    # the bare app doing only the round trips this request must make, bench/bare.py)
    ("introspect_active@small", 0.60, 2.0, 1.0, "floor_introspect@small"),
    ("introspect_suspended", 0.60, 2.0, 1.0, "floor_introspect@small"),
    ("introspect_unknown@small", 0.60, 2.0, 1.0, "floor_introspect@small"),
    ("jwt", 0.25, None, 2.0, "floor_issue"),
    ("code", 0.25, None, 2.0, "floor_issue"),
    ("refresh", 0.25, None, 2.0, "floor_issue"),
)


def line(key: str, label: str, r: dict) -> str:
    return (
        f"{key:<28} {r['rps']:8.0f} req/s  p50 {r['p50_us'] / 1000:6.2f} ms  "
        f"p99 {r['p99_us'] / 1000:6.2f} ms  cpu {r.get('cpu_ms', 0):5.2f} ms  "
        f"non-2xx {r['non2xx']:<7} wrong {r['wrong']}  ({label}; cpu ms "
        + ", ".join(f"{k} {v:.2f}" for k, v in r.get("cpu_split_ms", {}).items())
        + ")"
    )


def baseline(results: dict, figure: str = "rps") -> float | None:
    runs = [results[k][figure] for k in ("bare", "bare@end") if k in results]
    return sum(runs) / len(runs) if runs else None


def _key(results: dict, prefix: str) -> str | None:
    size = {"small": "tokens_small", "large": "tokens_large"}
    name, _, scale = prefix.partition("@")
    if scale in size and size[scale] in results:
        prefix = f"{name}@{results[size[scale]]['count']}"
    return prefix if prefix in results else None


def summary(info: dict, results: dict) -> str:
    base, base_cpu = baseline(results), baseline(results, "cpu_ms")
    out = [
        "",
        f"Date: {info['date']}. Machine: {info['machine']}.",
        f"Configuration: {info['config']}. {info['database']}.",
        f"Command: {info['command']}",
        "",
        "| scenario | req/s | × bare | p50 ms | p99 ms | non-2xx | wrong | CPU ms/req "
        "| × bare by CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, r in results.items():
        if "rps" not in r:
            continue
        ratio = f"{r['rps'] / base:.2f}" if base else "-"
        by_cpu = f"{base_cpu / r['cpu_ms']:.2f}" if base_cpu and r.get("cpu_ms") else "-"
        out.append(
            f"| {key} | {r['rps']:.0f} | {ratio} | {r['p50_us'] / 1000:.2f} | "
            f"{r['p99_us'] / 1000:.2f} | {r['non2xx']} | {r['wrong']} | "
            f"{r.get('cpu_ms', 0):.2f} | {by_cpu} |"
        )
    lifecycle = [k for k in results if k.startswith("lifecycle@")]
    if lifecycle:
        out += [
            "",
            "| operation | " + " | ".join(f"{k.split('@')[1]} tokens" for k in lifecycle) + " |",
            "|---|" + "---:|" * len(lifecycle),
        ]
        for op in results[lifecycle[0]]:
            cells = [
                f"{results[k][op]['ms']:.1f} ms, {results[k][op]['statements']} statements"
                for k in lifecycle
            ]
            out.append(f"| {op} | " + " | ".join(cells) + " |")
    out += ["", "Targets:"] + targets(results, base, base_cpu)
    return "\n".join(out)


def targets(results: dict, base: float | None, base_cpu: float | None = None) -> list[str]:
    lines = []
    for prefix, share, p99, most_cpu_ms, floor_prefix in TARGETS:
        key = _key(results, prefix)
        if key is None or not base:
            continue
        r = results[key]
        ratio = r["rps"] / base
        verdict = "met" if ratio >= share else f"MISSED by {(share - ratio) / share:.0%}"
        estimate = ""
        if base_cpu and r.get("cpu_ms"):
            estimate = f"; by CPU per request {base_cpu / r['cpu_ms']:.2f}"
        floor_key = _key(results, floor_prefix)
        if floor_key is not None:
            floor = results[floor_key]
            estimate += f"; its floor ({floor_key}) {floor['rps'] / base:.2f}"
            if base_cpu and floor.get("cpu_ms"):
                estimate += f", by CPU {base_cpu / floor['cpu_ms']:.2f}"
        lines.append(
            f"- {key}: {ratio:.2f} of the baseline (target ≥ {share:.2f}): {verdict}{estimate}"
        )
        # The server's processes, PostgreSQL's backends apart.
        server_ms = r.get("cpu_split_ms", {}).get("server")
        if server_ms is not None:
            verdict = "met" if server_ms <= most_cpu_ms else "MISSED"
            lines.append(
                f"- {key}: server CPU {server_ms:.2f} ms per request "
                f"(target ≤ {most_cpu_ms:g} ms): {verdict}"
            )
        base_p99 = baseline(results, "p99_us")
        if p99 is not None and base_p99:
            got = r["p99_us"] / base_p99
            verdict = "met" if got <= p99 else "MISSED"
            floor_p99 = (
                f"; its floor's × {results[floor_key]['p99_us'] / base_p99:.2f}"
                if floor_key is not None
                else ""
            )
            lines.append(
                f"- {key}: p99 {r['p99_us'] / 1000:.2f} ms, × {got:.2f} the baseline's "
                f"(target ≤ {p99:g}×): {verdict}{floor_p99}"
            )
    small, large = (
        _key(results, "introspect_active@small"),
        _key(results, "introspect_active@large"),
    )
    if small and large and small != large:
        for pct in ("p50_us", "p99_us"):
            ratio = results[large][pct] / results[small][pct]
            verdict = "met" if ratio <= 1.2 else "MISSED"
            lines.append(f"- {large} vs {small}: {pct[:3]} × {ratio:.2f} (target ≤ 1.2): {verdict}")
        steady = [server_work(results[k]) for k in (large, small)]
        if all(steady):
            lines.append(
                f"- {large} vs {small}: server CPU per request in wrk's CPU per request "
                f"× {steady[0] / steady[1]:.2f} (the machine's speed of the moment divided out)"
            )
    lifecycle = [k for k in results if k.startswith("lifecycle@")]
    if len(lifecycle) >= 2:
        for op in results[lifecycle[0]]:
            counts = {results[k][op]["statements"] for k in lifecycle}
            slowest = max(results[k][op]["ms"] for k in lifecycle)
            same = "same statement count" if len(counts) == 1 else "DIFFERENT statement counts"
            verdict = "met" if len(counts) == 1 and slowest < 50 else "MISSED"
            lines.append(f"- {op}: {same}, slowest {slowest:.1f} ms (target < 50 ms): {verdict}")
    return lines


def server_work(r: dict) -> float | None:
    """The server's CPU per request in units of the load generator's CPU per request. wrk does
    the same work for every request of a scenario, so on a machine whose speed varies from
    minute to minute (other tenants, caches, frequency) this ratio is steadier than either."""
    split = r.get("cpu_split_ms", {})
    if not split.get("wrk"):
        return None
    return (split.get("server", 0) + split.get("postgres", 0)) / split["wrk"]


def matrix(cells: dict[str, dict]) -> str:
    """The serving table: for each server and connection mode, the bare app and introspection
    side by side, measured one right after the other."""
    out = [
        "",
        "| server | connections | bare req/s | bare CPU ms | bare p99 ms | introspection req/s "
        "| × bare | server CPU ms | × bare by CPU | PostgreSQL CPU ms | p99 ms | p99 × bare |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for prefix in dict.fromkeys(k.rsplit("/", 1)[0] for k in cells):
        bare, ours = cells.get(prefix + "/bare"), cells.get(prefix + "/introspect_active")
        if not bare or not ours:
            continue
        kind, mode = prefix.split("/")
        out.append(
            f"| {kind} | {mode} | {bare['rps']:.0f} | {_server_cpu(bare):.2f} | "
            f"{bare['p99_us'] / 1000:.2f} | {ours['rps']:.0f} | {ours['rps'] / bare['rps']:.2f} | "
            f"{_server_cpu(ours):.2f} | {_server_cpu(bare) / _server_cpu(ours):.2f} | "
            f"{ours.get('cpu_split_ms', {}).get('postgres', 0):.2f} | "
            f"{ours['p99_us'] / 1000:.2f} | {ours['p99_us'] / bare['p99_us']:.2f} |"
        )
    out.append("Server CPU: the server's own processes per request, PostgreSQL's apart.")
    return "\n".join(out)


def _server_cpu(r: dict) -> float:
    return max(r.get("cpu_split_ms", {}).get("server", 0), 1e-6)
