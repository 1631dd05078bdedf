"""The schema, as ordered migrations. Append new ones; never edit an applied one.

Each migration is (version, name, sql). ``storage.db.migrate`` applies the missing ones
in order, each in its own transaction, and records it in ``schema_migrations``.
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "corpora and passages",
        """
        CREATE SEQUENCE corpus_ids START 1;
        CREATE TABLE corpora (
            id          INTEGER PRIMARY KEY DEFAULT nextval('corpus_ids'),
            name        VARCHAR NOT NULL UNIQUE,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            settings    JSON          -- chunk size, overlap, column choices used at ingest
        );
        CREATE TABLE ingested_files (
            corpus_id   INTEGER NOT NULL,
            filename    VARCHAR NOT NULL,
            kind        VARCHAR NOT NULL,   -- txt, md, pdf, csv, tsv, jsonl, beir
            n_bytes     BIGINT NOT NULL,
            n_documents INTEGER NOT NULL,
            n_passages  INTEGER NOT NULL,
            ingested_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        -- A passage is the unit everything downstream ranks. doc_id is the document it was
        -- split from (qrels of a BEIR test set refer to documents).
        CREATE TABLE passages (
            corpus_id   INTEGER NOT NULL,
            passage_id  VARCHAR NOT NULL,
            doc_id      VARCHAR NOT NULL,
            title       VARCHAR NOT NULL DEFAULT '',
            text        VARCHAR NOT NULL,
            text_hash   VARCHAR NOT NULL,   -- sha1 of the normalised text
            n_tokens    INTEGER NOT NULL,
            position    INTEGER NOT NULL,   -- index of the passage within its document
            source      VARCHAR NOT NULL,   -- the file it came from
            PRIMARY KEY (corpus_id, passage_id)
        );
        CREATE TABLE app_settings (
            key   VARCHAR PRIMARY KEY,
            value VARCHAR
        );
        """,
    ),
    (
        2,
        "held-out test sets and qrels",
        """
        CREATE SEQUENCE test_set_ids START 1;
        CREATE TABLE test_sets (
            id          INTEGER PRIMARY KEY DEFAULT nextval('test_set_ids'),
            corpus_id   INTEGER NOT NULL,
            name        VARCHAR NOT NULL,
            origin      VARCHAR NOT NULL,   -- beir, sample, qrels upload, reviewed queries
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            UNIQUE (corpus_id, name)
        );
        CREATE TABLE test_queries (
            test_set_id INTEGER NOT NULL,
            query_id    VARCHAR NOT NULL,
            text        VARCHAR NOT NULL,
            metadata    JSON,
            PRIMARY KEY (test_set_id, query_id)
        );
        CREATE TABLE qrels (
            test_set_id INTEGER NOT NULL,
            query_id    VARCHAR NOT NULL,
            doc_id      VARCHAR NOT NULL,
            relevance   INTEGER NOT NULL,
            PRIMARY KEY (test_set_id, query_id, doc_id)
        );
        """,
    ),
    (
        3,
        "synthetic queries, LLM cache, candidates, labels, reviews",
        """
        CREATE SEQUENCE query_ids START 1;
        CREATE TABLE queries (
            id             BIGINT PRIMARY KEY DEFAULT nextval('query_ids'),
            corpus_id      INTEGER NOT NULL,
            passage_id     VARCHAR NOT NULL,       -- the source passage it was made from
            text           VARCHAR NOT NULL,
            qtype          VARCHAR NOT NULL,       -- question, claim, title, keywords, web, casual
            origin         VARCHAR NOT NULL,       -- llm, offline (no LLM), human
            generator      VARCHAR NOT NULL,       -- model name, or the offline generator's name
            prompt_version VARCHAR NOT NULL,       -- hash of the prompt template used
            cache_key      VARCHAR,                -- the llm_cache entry it came from
            flags          VARCHAR[] NOT NULL DEFAULT [],  -- filters that flagged it
            deleted        BOOLEAN NOT NULL DEFAULT false,
            edited_text    VARCHAR,                -- a user's edit; text keeps the original
            created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        -- Every LLM call, keyed by a hash of its inputs, so nothing is paid for twice.
        CREATE TABLE llm_cache (
            key         VARCHAR PRIMARY KEY,
            model       VARCHAR NOT NULL,
            request     JSON NOT NULL,
            response    VARCHAR,
            error       VARCHAR,
            tokens_in   INTEGER,
            tokens_out  INTEGER,
            cost_usd    DOUBLE,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE embeddings (
            model      VARCHAR NOT NULL,
            text_hash  VARCHAR NOT NULL,
            vector     FLOAT[] NOT NULL,
            PRIMARY KEY (model, text_hash)
        );
        CREATE SEQUENCE mining_run_ids START 1;
        CREATE TABLE mining_runs (
            id          INTEGER PRIMARY KEY DEFAULT nextval('mining_run_ids'),
            corpus_id   INTEGER NOT NULL,
            settings    JSON NOT NULL,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE candidates (
            run_id      INTEGER NOT NULL,
            query_id    BIGINT NOT NULL,
            passage_id  VARCHAR NOT NULL,
            rank        INTEGER NOT NULL,
            bm25_score  DOUBLE,
            dense_score DOUBLE,
            fused_score DOUBLE NOT NULL,
            is_source   BOOLEAN NOT NULL,
            PRIMARY KEY (run_id, query_id, passage_id)
        );
        -- One row per judgement; re-judging with another model adds rows, never replaces.
        CREATE SEQUENCE label_ids START 1;
        CREATE TABLE labels (
            id             BIGINT PRIMARY KEY DEFAULT nextval('label_ids'),
            query_id       BIGINT NOT NULL,
            passage_id     VARCHAR NOT NULL,
            grade          INTEGER,             -- 0 not relevant .. 3 answers; NULL when failed
            rationale      VARCHAR,
            judge          VARCHAR NOT NULL,    -- model name, or the offline judge's name
            prompt_version VARCHAR NOT NULL,
            raw_response   VARCHAR,
            status         VARCHAR NOT NULL,    -- ok, failed
            error          VARCHAR,
            created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        -- Human overrides, append-only: the effective label is the latest review, else the
        -- LLM's label. Undo is a new row.
        CREATE SEQUENCE review_ids START 1;
        CREATE TABLE reviews (
            id          BIGINT PRIMARY KEY DEFAULT nextval('review_ids'),
            query_id    BIGINT NOT NULL,
            passage_id  VARCHAR,                -- NULL for a verdict on the query itself
            reviewer    VARCHAR NOT NULL,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            old_grade   INTEGER,
            new_grade   INTEGER,
            action      VARCHAR NOT NULL,       -- relevant, partially, not relevant, bad query, undo
            note        VARCHAR
        );
        """,
    ),
    (
        4,
        "jobs, models, evaluation runs",
        """
        CREATE SEQUENCE job_ids START 1;
        CREATE TABLE jobs (
            id          INTEGER PRIMARY KEY DEFAULT nextval('job_ids'),
            kind        VARCHAR NOT NULL,       -- reranker, retriever
            status      VARCHAR NOT NULL,       -- queued, running, done, failed, cancelled
            spec        JSON NOT NULL,
            folder      VARCHAR NOT NULL,
            pid         INTEGER,
            error       VARCHAR,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            started_at  TIMESTAMP,
            finished_at TIMESTAMP
        );
        CREATE SEQUENCE model_ids START 1;
        CREATE TABLE models (
            id          INTEGER PRIMARY KEY DEFAULT nextval('model_ids'),
            job_id      INTEGER,
            kind        VARCHAR NOT NULL,       -- reranker, retriever
            name        VARCHAR NOT NULL,
            path        VARCHAR NOT NULL,
            base_model  VARCHAR NOT NULL,
            metrics     JSON,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE eval_run_ids START 1;
        CREATE TABLE eval_runs (
            id          INTEGER PRIMARY KEY DEFAULT nextval('eval_run_ids'),
            test_set_id INTEGER NOT NULL,
            system      VARCHAR NOT NULL,       -- bm25, dense, rerank:<model>, ...
            model_id    INTEGER,
            settings    JSON,
            metrics     JSON,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE eval_results (
            run_id      INTEGER NOT NULL,
            query_id    VARCHAR NOT NULL,
            metric      VARCHAR NOT NULL,
            value       DOUBLE NOT NULL,
            PRIMARY KEY (run_id, query_id, metric)
        );
        CREATE TABLE eval_rankings (
            run_id      INTEGER NOT NULL,
            query_id    VARCHAR NOT NULL,
            passage_id  VARCHAR NOT NULL,
            rank        INTEGER NOT NULL,
            score       DOUBLE NOT NULL,
            PRIMARY KEY (run_id, query_id, rank)
        );
        """,
    ),
]

MIGRATIONS.append(
    (
        5,
        "queries: filter flags a user restored",
        """
        ALTER TABLE queries ADD COLUMN restored BOOLEAN DEFAULT false;
        CREATE INDEX queries_by_corpus ON queries (corpus_id, passage_id);
        """,
    )
)

MIGRATIONS.append(
    (
        6,
        "reviews: the queue a decision was made from",
        "ALTER TABLE reviews ADD COLUMN queue VARCHAR;",
    )
)

MIGRATIONS.append(
    (
        7,
        "queries: your users' real queries, which have no source passage",
        """
        DROP INDEX queries_by_corpus;
        ALTER TABLE queries ALTER COLUMN passage_id DROP NOT NULL;
        ALTER TABLE queries ADD COLUMN metadata JSON;
        CREATE INDEX queries_by_corpus ON queries (corpus_id, passage_id);
        """,
    )
)

MIGRATIONS.append(
    (
        8,
        "duplicates two sessions stored: merged into the earliest row",
        """
        -- Two sessions generating or judging at once could store the same work twice. Keep each
        -- query's earliest row; its duplicates' labels, reviews and edits move to it (their mined
        -- candidates go: mining ranks every kept query again). Keep each judge's earliest
        -- answered label of a pair (a failed one only when it never answered).
        CREATE TEMP TABLE duplicate_queries AS
            SELECT id, keeper, edited_text FROM (
                SELECT id, edited_text, min(id) OVER (PARTITION BY corpus_id, cache_key) AS keeper
                FROM queries WHERE cache_key IS NOT NULL)
            WHERE id <> keeper;
        UPDATE queries SET edited_text = d.edited_text
            FROM (SELECT keeper, max(edited_text) AS edited_text FROM duplicate_queries GROUP BY keeper) d
            WHERE queries.id = d.keeper AND queries.edited_text IS NULL;
        UPDATE labels SET query_id = d.keeper FROM duplicate_queries d WHERE labels.query_id = d.id;
        UPDATE reviews SET query_id = d.keeper FROM duplicate_queries d WHERE reviews.query_id = d.id;
        DELETE FROM candidates WHERE query_id IN (SELECT id FROM duplicate_queries);
        DELETE FROM queries WHERE id IN (SELECT id FROM duplicate_queries);
        DROP TABLE duplicate_queries;
        DELETE FROM labels WHERE id IN (
            SELECT id FROM (
                SELECT id, row_number() OVER (PARTITION BY query_id, passage_id, judge, prompt_version
                                              ORDER BY status = 'failed', id) AS n
                FROM labels)
            WHERE n > 1);
        """,
    )
)

MIGRATIONS.append(
    (
        9,
        "unique keys: a query per generation request, a label per judge and pair",
        """
        -- Its own migration: DuckDB builds an index over the rows a transaction deleted too, so
        -- these cannot follow migration 8's deletes in one transaction.
        -- (An ALTER of these tables must drop and re-create their indexes, as migration 7 did.)
        CREATE UNIQUE INDEX one_query_per_request ON queries (corpus_id, cache_key);
        CREATE UNIQUE INDEX one_label_per_judge ON labels (query_id, passage_id, judge, prompt_version);
        """,
    )
)

MIGRATIONS.append(
    (
        10,
        "jobs: the corpus a job trains on, a column of its own",
        """
        -- It lived only in the spec's JSON; every reader joined it with json_extract.
        ALTER TABLE jobs ADD COLUMN corpus_id INTEGER;
        UPDATE jobs SET corpus_id = json_extract(spec, '$.corpus_id')::INTEGER;
        """,
    )
)
