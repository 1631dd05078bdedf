"""Synthetic workspaces at scale, for benchmarks: rows made by SQL, no model involved."""

import duckdb


def fill_review_scale(con: duckdb.DuckDBPyConnection, queries: int, candidates: int) -> int:
    """A corpus 'scale' (id 1) of ``queries`` passages, one query each, ``candidates`` judged candidates
    per query (the source graded 3, the rest 0-2 by hash). Returns the number of labels."""
    con.execute("INSERT INTO corpora (name) VALUES ('scale')")
    con.execute(
        """INSERT INTO passages SELECT 1, 'p' || i, 'p' || i, 'title ' || i, 'text of passage ' || i, md5(i::VARCHAR), 5, 0, 'gen'
                   FROM range(?) t(i)""",
        [queries],
    )
    con.execute(
        """INSERT INTO queries (corpus_id, passage_id, text, qtype, origin, generator, prompt_version)
                   SELECT 1, 'p' || i, 'query ' || i, ['question', 'web', 'claim'][i % 3 + 1], 'offline', 'gen', 'v'
                   FROM range(?) t(i)""",
        [queries],
    )
    con.execute("INSERT INTO mining_runs (corpus_id, settings) VALUES (1, '{}')")
    con.execute(
        """INSERT INTO candidates SELECT 1, q.id, 'p' || ((q.id + c) % ?), c + 1, 1.0, 0.5, 0.1, c = 0
                   FROM queries q, range(?) t(c)""",
        [queries, candidates],
    )
    con.execute("""INSERT INTO labels (query_id, passage_id, grade, rationale, judge, prompt_version, status)
                   SELECT query_id, passage_id, CASE WHEN is_source THEN 3 ELSE (hash(passage_id) % 3)::INTEGER END,
                          'synthetic', 'bench', 'v', 'ok' FROM candidates""")
    return con.execute("SELECT count(*) FROM labels").fetchone()[0]


def sample_pairs(con: duckdb.DuckDBPyConnection, n: int) -> list[tuple[int, str]]:
    """n random (query id, passage id) pairs that carry a label."""
    return con.execute(f"SELECT query_id, passage_id FROM labels USING SAMPLE {int(n)} ROWS").fetchall()
