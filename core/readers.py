"""Reading uploaded bytes into documents, one function per format.

Every reader raises ``BadUpload`` naming the file (and the line where known) and what
to do; none writes anything. Test queries and qrels of BEIR data are read here too.
"""

import csv
import io
import json
import re
from dataclasses import dataclass, field

from core.errors import BadUpload
from core.passages import Document

TEXT_KINDS = {".txt": "txt", ".md": "md", ".markdown": "md"}
TABLE_KINDS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SUPPORTED = sorted([*TEXT_KINDS, *TABLE_KINDS, ".pdf", ".zip"])

ID_FIELDS = ("_id", "id", "doc_id", "docid")
TITLE_FIELDS = ("title", "heading", "name")
TEXT_FIELDS = ("text", "body", "content", "passage", "contents")


@dataclass
class Fields:
    """Which columns (CSV/TSV) or fields (JSONL) hold the text, the id and the title.

    ``None`` means: use the usual name if present (``text``/``_id``/``title`` and
    friends), else for text ask the user, and for id and title do without.
    """

    text: str | None = None
    id: str | None = None
    title: str | None = None


@dataclass
class TestData:
    """Held-out queries and their judgements, as read from BEIR files."""

    queries: dict[str, tuple[str, dict]] = field(default_factory=dict)  # id -> (text, metadata)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # query id -> doc id -> grade


def kind_of(filename: str) -> str | None:
    """The format of a file from its name (``txt``, ``md``, ``pdf``, ``csv``, ...), or None."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix == ".pdf":
        return "pdf"
    if suffix == ".zip":
        return "zip"
    return TEXT_KINDS.get(suffix) or TABLE_KINDS.get(suffix)


def safe_name(name: str) -> str:
    """A file name reduced to a harmless identifier: no '..', no leading '/', only word
    characters, '.', '-' and '/' between folder names. Never used as a path on disk.

    >>> safe_name("../../etc/passwd")
    'etc/passwd'
    >>> safe_name("notes/Chapter 1 (draft).txt")
    'notes/Chapter_1_draft_.txt'
    """
    parts = [p for p in re.split(r"[\\/]+", name) if p not in ("", ".", "..")]
    return "/".join(re.sub(r"[^\w.-]+", "_", p).strip(".") or "_" for p in parts) or "_"


def decode(filename: str, data: bytes, encoding: str | None = None) -> str:
    """Bytes to text: UTF-8 (with or without BOM), UTF-16 with a BOM, or the encoding given.

    Raises:
        BadUpload: the file is empty, binary, or not in the encoding.
    """
    if not data.strip():
        raise BadUpload("the file is empty; upload a file that has text in it", filename=filename)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") and encoding is None:
        encoding = "utf-16"
    elif b"\x00" in data[:8192] and encoding is None:
        raise BadUpload(
            "this looks like a binary file, not text; upload plain text, or convert it (e.g. a .docx to .txt) first",
            filename=filename,
        )
    try:
        return data.decode(encoding or "utf-8-sig")
    except LookupError:
        raise BadUpload(
            f"unknown encoding {encoding!r}; use a name such as utf-8, cp1252 or latin-1", filename=filename
        ) from None
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise BadUpload(
            f"not valid {encoding or 'UTF-8'} (byte 0x{data[err.start]:02x}); save the file as "
            "UTF-8, or pick its encoding (e.g. cp1252, latin-1) in the ingest options",
            filename=filename,
            line=line,
        ) from None


def read_text(filename: str, data: bytes, encoding: str | None = None) -> list[Document]:
    """A .txt or .md file is one document; a Markdown file's first heading is its title."""
    text = decode(filename, data, encoding)
    title = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    heading = re.search(r"^\s{0,3}#{1,6}\s+(.+)$", text, re.MULTILINE)
    if kind_of(filename) == "md" and heading:
        title = heading.group(1).strip()
        text = re.sub(r"^\s{0,3}#{1,6}\s+", "", text, flags=re.MULTILINE)
    if not text.strip():
        raise BadUpload("the file is empty; upload a file that has text in it", filename=filename)
    return [Document(safe_name(filename).rsplit(".", 1)[0], text, title, filename)]


def read_pdf(filename: str, data: bytes) -> list[Document]:
    """A PDF's text layer, as one document. Scanned PDFs without one are refused."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise BadUpload("the PDF is encrypted; save an unprotected copy and upload that", filename=filename)
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as err:
        raise BadUpload(
            f"cannot read this PDF ({err}); check that it opens in a PDF viewer", filename=filename
        ) from None
    text = "\n".join(pages)
    if not text.strip():
        raise BadUpload(
            f"no text layer in any of its {len(pages)} pages (a scan?); run OCR on it first "
            "(e.g. ocrmypdf) and upload the result",
            filename=filename,
        )
    title = (reader.metadata.title if reader.metadata and reader.metadata.title else "") or filename.rsplit("/", 1)[
        -1
    ].rsplit(".", 1)[0]
    return [Document(safe_name(filename).rsplit(".", 1)[0], text, title, filename)]


def _pick(available: list[str], chosen: str | None, usual: tuple[str, ...], what: str, filename: str) -> str | None:
    if chosen:
        if chosen not in available:
            raise BadUpload(
                f"has no {what} {chosen!r}; its fields are {available}; pick one of those", filename=filename
            )
        return chosen
    return next((name for name in usual if name in available), None)


def _records_to_documents(filename: str, records: list[tuple[int, dict]], fields: Fields) -> list[Document]:
    available = list(records[0][1].keys()) if records else []
    text_field = _pick(available, fields.text, TEXT_FIELDS, "text field", filename)
    if text_field is None:
        raise BadUpload(
            f"no text field found among {available}; pick the one that holds the passage text (or rename it to 'text')",
            filename=filename,
        )
    id_field = _pick(available, fields.id, ID_FIELDS, "id field", filename)
    title_field = _pick(available, fields.title, TITLE_FIELDS, "title field", filename)
    stem = safe_name(filename).rsplit(".", 1)[0]
    documents = []
    for line, record in records:
        if text_field not in record:
            raise BadUpload(
                f"has no field {text_field!r} (it has {list(record)}); add it or pick another text field",
                filename=filename,
                line=line,
            )
        text = record[text_field]
        for name in (text_field, title_field):
            if name and isinstance(record.get(name), (dict, list)):
                raise BadUpload(
                    f"field {name!r} holds {'an object' if isinstance(record[name], dict) else 'a list'}, not text; "
                    "pick a field that holds the passage as a string (or flatten the records first)",
                    filename=filename,
                    line=line,
                )
        if text is None or str(text).strip() == "":
            continue
        doc_id = str(record[id_field]) if id_field and record.get(id_field) not in (None, "") else f"{stem}:{line}"
        title = str(record.get(title_field) or "") if title_field else ""
        documents.append(Document(doc_id, str(text), title, filename))
    return documents


def table_columns(filename: str, data: bytes, encoding: str | None = None) -> list[str]:
    """The columns of a CSV/TSV, or the fields of the first records of a JSONL, for the user to pick from."""
    if kind_of(filename) == "jsonl":
        names: dict[str, None] = {}
        for _, record in _jsonl_records(filename, decode(filename, data, encoding), limit=50):
            names.update(dict.fromkeys(record))
        return list(names)
    reader = csv.reader(
        io.StringIO(decode(filename, data, encoding)), delimiter="\t" if kind_of(filename) == "tsv" else ","
    )
    return next(reader, [])


def read_table(filename: str, data: bytes, fields: Fields, encoding: str | None = None) -> list[Document]:
    """Each row of a CSV/TSV is a document. Rows with an empty text cell are skipped.

    Raises:
        BadUpload: no header, a row with more cells than the header, or a missing column.
    """
    text = decode(filename, data, encoding)
    delimiter = "\t" if kind_of(filename) == "tsv" else ","
    csv.field_size_limit(16 * 1024 * 1024)
    # strict: a quote that opens a cell and never closes where a cell may end is an error, not a cell that swallows
    # every row up to the next quote (or the end of the file)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    started = 1  # the line the record being read starts on
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise BadUpload("has no header row; the first line must name the columns", filename=filename, line=1)
        header = [h.strip() for h in header]
        records = []
        while True:
            started = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                raise BadUpload(
                    f"has {len(row)} cells but the header has {len(header)}; quote cells that "
                    f"contain '{delimiter}' (or check that the file is really {'tab' if delimiter == chr(9) else 'comma'}-separated)",
                    filename=filename,
                    line=reader.line_num,
                )
            records.append((reader.line_num, dict(zip(header, row + [""] * (len(header) - len(row))))))
    except csv.Error as err:
        raise BadUpload(
            f"is not valid CSV ({err}): a quoted cell opened on line {started} does not close where a cell "
            f"can end (read to line {reader.line_num}); close the quote, or double a quote inside a quoted "
            'cell ("")',
            filename=filename,
            line=started,
        ) from None
    if not records:
        raise BadUpload("has a header but no rows", filename=filename)
    return _records_to_documents(filename, records, fields)


def _jsonl_records(filename: str, text: str, limit: int | None = None):
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise BadUpload(
                f"is not valid JSON ({err.msg}); each line must be one JSON object", filename=filename, line=number
            ) from None
        if not isinstance(record, dict):
            raise BadUpload(
                f"holds a {type(record).__name__}, not an object; each line must be one JSON object",
                filename=filename,
                line=number,
            )
        yield number, record
        count += 1
        if limit and count >= limit:
            return


def read_jsonl(filename: str, data: bytes, fields: Fields, encoding: str | None = None) -> list[Document]:
    """Each line of a JSONL file is a document (BEIR corpus fields ``_id``, ``title``, ``text`` by default)."""
    records = list(_jsonl_records(filename, decode(filename, data, encoding)))
    if not records:
        raise BadUpload("has no records", filename=filename)
    return _records_to_documents(filename, records, fields)


def read_beir_test(queries_name: str, queries: bytes, qrels_name: str, qrels: bytes) -> TestData:
    """BEIR queries.jsonl and a qrels TSV (query-id, corpus-id, score, with a header)."""
    test = TestData()
    for line, record in _jsonl_records(queries_name, decode(queries_name, queries)):
        if "_id" not in record or "text" not in record:
            raise BadUpload(f"needs fields '_id' and 'text', has {list(record)}", filename=queries_name, line=line)
        test.queries[str(record["_id"])] = (str(record["text"]), record.get("metadata") or {})
    for number, line in enumerate(decode(qrels_name, qrels).splitlines(), start=1):
        cells = line.strip().split("\t")
        if not line.strip() or (number == 1 and not cells[-1].lstrip("-").isdigit()):
            continue  # blank line or header
        if len(cells) < 3 or not cells[-1].lstrip("-").isdigit():
            raise BadUpload(
                "expected 'query-id<TAB>corpus-id<TAB>score' with an integer score", filename=qrels_name, line=number
            )
        test.qrels.setdefault(cells[0], {})[cells[-2]] = int(cells[-1])
    return test
