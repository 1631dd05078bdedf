"""The offline generator (the rules, no model): every type, readable questions that name the topic and what sets
a passage apart, types in turn, and questions about a topic routed to the passage that opens it."""

import json
from collections import Counter

from core.generate import GenerationSettings, generate_queries, select_passages
from core.ingest import ingest_files, load_sample_corpus
from core.prompts import QUERY_TYPES
from storage import queries as store
from tests.conftest import SAMPLE_PASSAGES


def test_offline_generator_makes_every_type_without_network(con):
    corpus = load_sample_corpus(con).corpus_id
    report = generate_queries(
        con, corpus, select_passages(con, corpus), GenerationSettings(per_type={t: 1 for t in QUERY_TYPES})
    )
    rows = con.execute("SELECT qtype, text, origin, generator FROM queries").fetchall()
    assert report.made == SAMPLE_PASSAGES * 6 and {r[0] for r in rows} == set(QUERY_TYPES)
    # where no rule makes a readable query the passage gets none: an empty row, flagged, never trained on
    kept, _ = store.list_queries(con, corpus, show="kept", limit=10_000)
    flagged, _ = store.list_queries(con, corpus, show="flagged", limit=10_000)
    assert set(kept["qtype"]) == set(QUERY_TYPES) and all(t.strip() for t in kept["query"])
    assert all(f == "empty" for t, f in zip(flagged["query"], flagged["flags"]) if not t.strip())
    assert {r[2] for r in rows} == {"offline"} and all("no LLM" in r[3] for r in rows)


def test_offline_generator_on_medquad_passages(con, medquad):
    lines = (medquad / "corpus.jsonl").read_bytes().splitlines()[:300]
    corpus = ingest_files(con, "m", [("corpus.jsonl", b"\n".join(lines))]).corpus_id
    generate_queries(
        con, corpus, select_passages(con, corpus), GenerationSettings(per_type={t: 1 for t in QUERY_TYPES})
    )
    rows = con.execute("SELECT qtype, text FROM queries").fetchall()
    assert len(rows) == 300 * 6 and {r[0] for r in rows} == set(QUERY_TYPES)
    assert sum(not r[1].strip() for r in rows) < 0.01 * len(rows)  # a sectioned corpus names its aspects
    kept, _ = store.list_queries(con, corpus, show="kept", limit=10_000)
    assert len(kept) > 0.8 * len(rows)


def test_offline_queries_name_the_topic_and_what_sets_the_passage_apart_from_its_siblings():
    from core.offline import OfflineGenerator

    shared = "The spoke tension of a wheel matters for every rider and every wheel."
    sections = {
        "truing": f"{shared} Truing moves the rim sideways with a spoke key until the rim runs straight.",
        "building": f"{shared} Building laces new spokes in a cross pattern around the hub flanges.",
        "replacing": f"{shared} Replacing a broken spoke means removing the tyre and threading a new nipple.",
    }
    others = ["Chains need oil after rain.", "Brake pads wear out and squeal.", "Tyres lose pressure slowly."]
    texts = list(sections.values()) + others
    gen = OfflineGenerator(texts, ["Wheel care"] * 3 + ["Chains", "Brakes", "Tyres"])
    for word, text in sections.items():
        for qtype in ("keywords", "web", "title"):
            query = gen.make("Wheel care", text, qtype).lower()
            assert "wheel" in query, (qtype, query)
            distinctive = set(text.lower().rstrip(".").split()) - set(shared.lower().rstrip(".").split())
            assert set(query.replace(":", " ").split()) & distinctive, (qtype, query)
            assert "tension" not in query  # shared by every sibling: says nothing about this passage
    # without siblings the aspect is plain TF-IDF, and every type but the question still gives a query: "What is the
    # rain for chains?" would not read ("rain" is no aspect of a subject here), so there is none
    assert all(gen.make("Chains", others[0], t) for t in ("claim", "title", "keywords", "web", "casual"))
    assert gen.make("Chains", others[0], "question") == ""


def asked(query: str, topic: str) -> list[str]:
    """The words a question asks before it names its topic ("What is the treatment" of "... for glaucoma?")."""
    text, topic = query.rstrip("?").lower(), topic.lower()
    for named in (f" for {topic}", f" of {topic}"):
        if topic and text.endswith(named):
            return text.removesuffix(named).split()
    return text.split()


def test_offline_questions_end_where_a_question_can_and_phrases_stay_inside_a_clause():
    """No question cut off on a word that needs more ("What may be used to for ...", "How do I people who have?"),
    no subject that names nobody ("our experiment", "although ..."), no noun phrase across a list's commas, and a
    sentence that is already a question is not turned into another ("What can I find ...")."""
    from core.corpus_grammar import FUNCTION_WORDS
    from core.offline import OfflineGenerator

    texts = [
        "A sample of citations was analysed by subject, bibliographic form, country of origin and language.",
        "How can I find more information on the treatment of citation bias? You can find journal articles here.",
        "Our experiment was based on one volume of abstracts. The indexing terms were weighted by frequency.",
        "Although the catalogue is large, retrieval can be fast. Readers can search the catalogue by title.",
        "Search the catalogue with the subject headings. Readers may also browse the shelves.",
        "People who have borrowed books can renew them online.",
    ]
    titles = [
        "Citation analysis",
        "Citation bias",
        "Term weighting",
        "Catalogue search",
        "Subject headings",
        "Renewals",
    ]
    gen = OfflineGenerator(texts, titles)
    scores = gen.aspect_scores(titles[0], texts[0])
    clauses = [c.strip().lower() for c in texts[0].rstrip(".").split(",")]
    for phrase in gen.noun_phrases(texts[0], scores):
        assert any(phrase.lower() in c for c in clauses), phrase  # "subject bibliographic form country" is no phrase
    # what the passage says its topic has ("the treatment of citation bias") is what a searcher asks about
    assert gen.make(titles[1], texts[1], "question") == "What is the treatment of citation bias?"
    for title, text in zip(titles, texts):
        for qtype in ("question", "casual"):
            query = gen.make(title, text, qtype).rstrip("?")
            if not query:
                continue  # no rule made a readable one
            words = asked(query, gen.topic(title))
            assert words and words[-1] not in FUNCTION_WORDS, query
            assert not query.lower().startswith(
                ("what can i find", "what was our", "what is although", "how do i people")
            ), query


def test_offline_questions_name_what_this_points_at_and_ask_about_the_topic():
    """A subject saying "this condition" names the topic where passages open with "This condition ..." (nothing
    before them to point at), so the question names it; a subject pointing at something else ("this article" where
    no passage opens so) is no question, and "of" shared with the topic does not count as naming it."""
    from core.offline import OfflineGenerator

    texts = [
        "This condition is inherited in an autosomal recessive pattern.",
        "This condition affects the skin and the hair of young children.",
        "The incidence of this condition is about one in ten thousand newborns.",
        "The purpose of this article is to discuss the library environment and its readers.",
        "Oil keeps a bicycle chain quiet.",
    ]
    titles = ["Tietz syndrome", "Tietz syndrome", "Galloway-Mowat syndrome", "The Ecology of Privacy", "Chains"]
    gen = OfflineGenerator([f"{title}. {text}" for title, text in zip(titles, texts)], titles)
    assert gen.anaphors == {"condition"}
    assert gen.make(titles[2], texts[2], "question") == "What is the incidence of Galloway-Mowat syndrome?"
    assert gen.make(titles[2], texts[2], "casual") == "what is the incidence of galloway-mowat syndrome"
    # and its fallback, "What is the library environment for the ecology of privacy?", would not read: none
    assert gen.make(titles[3], texts[3], "question") == ""


def test_a_title_that_is_a_clause_yields_its_subject_as_the_topic():
    """ "What I need to know about Gas" is about gas, "Kidney Failure: What to Expect" about kidney failure; a
    title without such a clause, colon or not, keeps its words; a title that is a question stays one."""
    from core.offline import OfflineGenerator

    gen = OfflineGenerator(["Gas is air in the digestive tract."], ["What I need to know about Gas"])
    assert gen.topic("What I need to know about Gas") == "gas"
    assert gen.topic("Kidney Failure: What to Expect") == "kidney failure"
    assert (
        gen.topic("Diabetic Neuropathies: The Nerve Damage of Diabetes")
        == "diabetic neuropathies the nerve damage of diabetes"
    )
    assert gen.topic("What do Chemists Read?") == "what do chemists read"
    assert gen.make("What I need to know about Gas", "Gas is air in the digestive tract.", "casual").endswith("gas")


def test_offline_questions_on_medquad_and_cisi_end_where_a_question_can(medquad):
    """The rule above over the first 1,000 passages of each real corpus (offline-v6 cut 101 of the first 1,500
    MedQuAD passages' questions and casual searches short on a function word, and 46 of CISI's; v7 none)."""
    from core.corpus_grammar import FUNCTION_WORDS
    from core.offline import OfflineGenerator

    for folder in (medquad, medquad.parent / "cisi"):
        rows = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines()[:1000]]
        gen = OfflineGenerator([f"{r['title']}. {r['text']}" for r in rows], [r["title"] for r in rows])
        queries = [
            (gen.make(r["title"], r["text"], qtype), gen.topic(r["title"]))
            for r in rows
            for qtype in ("question", "casual")
        ]
        cut = [q for q, topic in queries if q and asked(q, topic)[-1] in FUNCTION_WORDS]
        assert len(queries) == 2000 and cut == [], cut[:5]


def test_types_in_turn_give_each_passage_one_type_and_keep_it_on_a_rerun(con):
    corpus = load_sample_corpus(con).corpus_id
    everything = select_passages(con, corpus)
    settings = GenerationSettings(per_type={"question": 1, "casual": 1}, in_turn=True)
    first = generate_queries(con, corpus, everything[:20], settings)
    again = generate_queries(con, corpus, everything, settings)  # a wider selection: the first 20 keep their type
    assert first.made == 20 and again.made == len(everything) - 20 and again.skipped == 20
    per_passage = con.execute("SELECT passage_id, count(*), min(qtype) FROM queries GROUP BY 1").fetchall()
    assert len(per_passage) == len(everything) and {n for _, n, _ in per_passage} == {1}
    by_type = Counter(t for _, _, t in per_passage)
    assert set(by_type) == {"question", "casual"} and min(by_type.values()) >= len(everything) / 4  # both take turns
    both = generate_queries(con, corpus, everything, GenerationSettings(per_type={"question": 1, "casual": 1}))
    assert both.made == len(everything)  # without turns, each passage also gets the type it had not


def test_a_question_naming_only_the_topic_goes_to_the_passage_that_opens_its_title(con):
    """'What is wheel care?' fits every passage titled Wheel care; the offline generator gives it to the passage
    that opens a run of them (a document's introduction) and asks the others about what sets them apart."""
    docs = [
        (
            "a1",
            "Wheel care",
            "Wheel care is the upkeep of a bicycle's wheels by its rider. Riders check spokes before rides.",
        ),
        (
            "a2",
            "Wheel care",
            "Wheel care is cheap. The truing of a wheel moves the rim sideways with a spoke key until it runs straight.",
        ),
        (
            "a3",
            "Wheel care",
            "Wheel care is simple. The building of a wheel laces new spokes in a cross pattern around the hub flanges.",
        ),
        ("b1", "Chains", "Chains need oil after rain."),
        (
            "c1",
            "Wheel care",
            "Wheel care is what keeps a wheel round and true for years of riding.",
        ),  # another document's introduction
        (
            "c2",
            "Wheel care",
            "Wheel care is quick. The repair of a wheel with a broken spoke means threading a new nipple.",
        ),
    ]
    lines = "".join(
        json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in reversed(docs)
    )  # backwards: the corpus orders by document id
    corpus = ingest_files(con, "w", [("corpus.jsonl", lines.encode())]).corpus_id
    generate_queries(con, corpus, select_passages(con, corpus), GenerationSettings(per_type={"question": 1}))
    asked = dict(con.execute("SELECT p.doc_id, q.text FROM queries q JOIN passages p USING (passage_id)").fetchall())
    assert asked["a1"] == asked["c1"] == "What is wheel care?"
    for sibling in ("a2", "a3", "c2"):
        assert asked[sibling] != "What is wheel care?" and "wheel care" in asked[sibling].lower(), asked
        assert set(asked[sibling].lower().rstrip("?").split()) - {"what", "is", "are", "the", "for", "wheel", "care"}, (
            asked
        )


def test_a_question_of_no_readable_shape_is_not_made():
    """'What is the <phrase> for <topic>?' is asked only where the phrase names an aspect of a subject: the corpus puts
    it before "of" or "for" ("the cost of"), or the passage itself says it of its topic. "What is the clean rag for
    chain grime?" (the sample corpus's old output was of this kind) and "What is rag?" read as nonsense: not made."""
    from core.offline import OfflineGenerator

    texts = [
        "Wipe the chain with a clean rag after every wet ride.",
        "The cost of a new chain is low; the cost of a worn cassette is not.",
        "Check the cost of spare tubes before a long ride.",
    ]
    titles = ["Chain grime", "Chain wear", "Spares"]
    gen = OfflineGenerator([f"{t}. {x}" for t, x in zip(titles, texts)], titles)
    assert gen.aspect("cost") and not gen.aspect("rag")
    assert gen.make(titles[0], f"{titles[0]}. {texts[0]}", "question") == ""
    assert gen._about("clean rag", "chain grime") == "" and gen._about("chain", "chain grime") == ""
    assert gen._about("spare cost", "chain grime") == "What is the spare cost for chain grime?"
    assert gen.make(titles[1], f"{titles[1]}. {texts[1]}", "question") == "What is the cost of a new chain?"


def test_a_title_naming_a_task_is_asked_how_to_do_it():
    """A how-to corpus titles its passages by tasks ("Replacing a chain"); a searcher asks "How do I replace a chain?".
    The -ing word becomes the base form the corpus uses; one before a bare noun counts as a verb only where the corpus
    does it ("to bleed") and never puts it after a determiner ("the hearing loss" is a thing, not a task)."""
    from core.offline import OfflineGenerator

    texts = [
        "Replacing a chain takes a chain tool. You need to replace it when it stretches.",
        "Caring for a battery means storing it half charged. Riders who care for it get more years.",
        "Bleeding hydraulic brakes clears the air. You need to bleed them yearly; bike shops can bleed them too.",
        "Hearing loss has many causes. The hearing loss of older people is common; many want to hear better and can hear again with aids.",
        "Smoking and your heart: smoking damages vessels. Try to smoke less.",
    ]
    titles = [
        "Replacing a chain",
        "Caring for a battery",
        "Bleeding hydraulic brakes",
        "Hearing loss",
        "Smoking and your heart",
    ]
    gen = OfflineGenerator([f"{t}. {x}" for t, x in zip(titles, texts)], titles)
    made = {t: gen.make(t, f"{t}. {x}", "question") for t, x in zip(titles, texts)}
    assert made["Replacing a chain"] == "How do I replace a chain?"
    assert made["Caring for a battery"] == "How do I care for a battery?"  # "care", not "car"
    assert made["Bleeding hydraulic brakes"] == "How do I bleed hydraulic brakes?"
    assert gen.make("Replacing a chain", texts[0], "casual") == "how to replace a chain"
    assert gen.task("hearing loss") == "" and gen.task("smoking and your heart") == ""
    assert not made["Hearing loss"].startswith("How do I") and not made["Smoking and your heart"].startswith("How")
