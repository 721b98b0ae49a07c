"""The real book, built once per session with ``jupyter-book build . -W``.

Every text of the old al-folio page must be in the HTML, hidden speakers must
not, the calendar export must be there, and bad data must stop the build with
one line.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_BUILDS: dict[Path, Path] = {}

INTRO = (
    "Open-source software development is a cornerstone of modern machine learning research. However, "
    "there are often overlooked issues around the sustainability of long-term projects, the reliability "
    "of software, and proper academic acknowledgment of long-term maintenance and contributions. This "
    "workshop aims to identify and discuss strategies for successful and sustainable open-source "
    "development in machine learning while also proposing possible solutions to the challenges mentioned "
    "above. In addition, this workshop will serve as a platform to provide academic and community "
    "recognition of efforts from open-source contributors in the field. We will bring together machine "
    "learning researchers, engineers, industrial practitioners, and software development experts. The "
    "workshop will feature invited talks, panel discussions with experts, and extended abstract "
    "submissions from open-source contributors in machine learning."
)
CFP = [
    "We invite high-quality extended abstract submissions on open-source software development in machine "
    "learning and adjacent fields. Some examples (non-exhaustive list):",
    "Submissions that describe a new open-source machine learning software library",
    "Submissions which explain a new addition, significant bug fixes, or changes to an established library",
    "Submissions that explore a scientific result across different versions of an (established) library",
    "Submissions on the technical setup (e.g. CI, testing) and best practices for reproducibility",
    "Proposals for better workflows or incentives for open-source development and maintenance in ML",
    "Accepted submissions will be presented during joint poster sessions and will be made publicly "
    "available as non-archival reports, allowing future submissions to archival conferences or journals.",
    "Submissions must be anonymous, in ICML format and not longer than four pages, excluding references, "
    "acknowledgments, and supplementary material. Long appendices are permitted but strongly discouraged, "
    "and reviewers are not required to read them. The review process is double-blind.",
    "Authors may be asked to review other workshop submissions.",
]
SCHEDULE = [
    ("09:00 - 09:15", "Opening remarks"),
    ("09:15 - 09:45", "Invited talk"),
    ("09:45 - 10:15", "Invited talk"),
    ("10:15 - 11:00", "Coffee and breakout sessions"),
    ("11:00 - 11:30", "Invited talk"),
    ("11:30 - 12:00", "Contributed talks/demos"),
    ("12:00 - 13:15", "Lunch and discussion"),
    ("13:15 - 13:45", "Invited talk"),
    ("13:45 - 14:15", "Lightning talks/demos"),
    ("14:15 - 15:00", "Coffee and breakout sessions"),
    ("15:00 - 15:30", "Invited talk"),
    ("15:30 - 16:30", "Poster session"),
    ("16:30 - 17:00", "Invited talk"),
    ("17:00 - 17:55", "Panel discussion"),
    ("17:55 - 18:00", "Closing remarks"),
]
MATT_BIO = (
    "Matt Johnson is a senior research scientist at Google, where he works on the development of "
    "open-source tools and frameworks for machine learning. He has made numerous contributions to "
    "numerical libraries used in machine learning. Matt was a founder and lead contributor of Autograd, "
    "a precursor to the widely popular JAX library, and now is a key contributor to JAX."
)
ORGANIZERS = [
    ("Geoff Pleiss", "https://geoffpleiss.com/", ["University of British Columbia", "Vector Institute"]),
    ("Jonathan Wenger", "https://jonathanwenger.netlify.app/", ["Columbia University"]),
    (
        "Julija Pecerska",
        "https://www.zhaw.ch/en/about-us/person/pece/",
        ["Zurich University of Applied Sciences"],
    ),
    ("Alina Selega", "https://alinaselega.github.io/", ["Recursion"]),
    ("Frank Schneider", "https://fsschneider.github.io", ["University of Tübingen"]),
]
HIDDEN = ["Paige Bailey", "Sara Hooker", "Tri Dao", "Max Balandat", "Stella Biderman"]


def run_build(root: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """The organizers' command, ``jupyter-book build <root> -W``, into ``out``."""
    command = ["jupyter-book", "build", str(root), "-W", "--path-output", str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)


def built_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the real book once per test session; returns the HTML directory."""
    base = tmp_path_factory.getbasetemp()
    if base not in _BUILDS:
        if shutil.which("jupyter-book") is None:
            pytest.skip("jupyter-book is not installed")
        out = tmp_path_factory.mktemp("site")
        result = run_build(ROOT, out)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        _BUILDS[base] = out / "_build" / "html"
    return _BUILDS[base]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_html(tmp_path_factory)


def text_of(page: Path) -> str:
    """Visible text of the article, whitespace collapsed."""
    source = page.read_text(encoding="utf-8")
    article = source[source.index("<article") : source.index("</article>")]
    article = re.sub(r"<script.*?</script>", " ", article, flags=re.S)
    return (
        re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", article)))
        .replace(" ,", ",")
        .replace(" .", ".")
    )


@pytest.mark.slow
def test_home_page_has_hero_intro_news_and_dates(site: Path) -> None:
    page = (site / "book" / "index.html").read_text(encoding="utf-8")
    text = text_of(site / "book" / "index.html")
    assert "logo-codeml.svg" in page and "codeml-banner" not in page  # the theme's logo, not a second one
    hero = page.split('class="codeml-hero', 1)[1].split('class="codeml-actions', 1)[0]
    assert "A workshop at ICML 2025" in hero and "Dates to be announced." in hero  # every date is TBD
    actions = page.split('class="codeml-action-row"', 1)[1].split("</p>", 1)[0]
    for href in ("call-for-papers.html", "posters.html", "authors.html"):
        assert f'href="{href}"' in actions, href
    assert "Championing Open-source DEvelopment in Machine Learning" in text
    assert INTRO in text
    assert "Matt Johnson (Google) will give an invited talk." in text
    for label in ("Submission Deadline", "Acceptance Notification Date", "Workshop Date"):
        assert f"{label} TBD" in text
    assert (site / "index.html").is_file()  # the redirect to book/index.html


@pytest.mark.slow
def test_call_for_papers(site: Path) -> None:
    text = text_of(site / "book" / "call-for-papers.html")
    for sentence in CFP:
        assert sentence in text
    page = (site / "book" / "call-for-papers.html").read_text(encoding="utf-8")
    assert 'href="https://icml.cc/Conferences/2025/AuthorInstructions"' in page
    assert "<strong>four pages</strong>" in page


@pytest.mark.slow
def test_schedule_rows_links_and_calendar(site: Path) -> None:
    text = text_of(site / "book" / "schedule.html")
    for time, session in SCHEDULE:
        assert f"{time} {session}" in text
    page = (site / "book" / "schedule.html").read_text(encoding="utf-8")
    poster_link = (
        '<a class="reference internal" href="posters.html"><span class="doc">Poster session</span></a>'
    )
    assert poster_link in page
    assert 'href="../codeml.ics"' in page
    calendar = (site / "codeml.ics").read_bytes().decode("utf-8")
    assert calendar.startswith("BEGIN:VCALENDAR\r\n") and calendar.endswith("END:VCALENDAR\r\n")
    assert "BEGIN:VEVENT" not in calendar  # every date of the seed is TBD


@pytest.mark.slow
def test_speakers_show_matt_johnson_and_hide_drafts(site: Path) -> None:
    text = text_of(site / "book" / "speakers.html")
    assert MATT_BIO in text
    page = (site / "book" / "speakers.html").read_text(encoding="utf-8")
    assert 'href="https://github.com/mattjj"' in page
    assert 'id="speaker-matt-johnson"' in page
    assert "data:image/svg+xml;base64," in page  # no photo in the repo: initials avatar
    for page_path in site.rglob("*.html"):
        content = page_path.read_text(encoding="utf-8")
        for name in HIDDEN:
            assert name not in content, f"{name} (visible: false) is shown on {page_path}"


@pytest.mark.slow
def test_organizers_with_affiliations_and_links(site: Path) -> None:
    text = text_of(site / "book" / "organizers.html")
    page = (site / "book" / "organizers.html").read_text(encoding="utf-8")
    for name, url, affiliations in ORGANIZERS:
        assert " ".join([name, *affiliations]) in text
        assert page.count(f'href="{url}"') == 2  # picture and name
    assert page.count('class="codeml-avatar') == len(ORGANIZERS)


@pytest.mark.slow
def test_news_page_newest_first(site: Path) -> None:
    text = text_of(site / "book" / "news.html")
    assert text.index("Mar 15, 2025") < text.index("Mar 1, 2025")


@pytest.mark.slow
def test_thebe_config_script_is_included_once(site: Path) -> None:
    for page in (site / "book").glob("*.html"):
        assert page.read_text(encoding="utf-8").count("const THEBE_JS_URL") == 1, page


def _copy_root(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "book", target / "book", ignore=shutil.ignore_patterns("_build", "generated"))
    return target


@pytest.mark.slow
def test_a_typo_in_the_data_fails_the_build_with_one_line(tmp_path: Path) -> None:
    if shutil.which("jupyter-book") is None:
        pytest.skip("jupyter-book is not installed")
    root = _copy_root(tmp_path / "root")
    speakers = root / "book" / "_data" / "speakers.yml"
    text = speakers.read_text(encoding="utf-8")
    speakers.write_text(text.replace("\n    visible: false", "\n    visibel: false", 1), encoding="utf-8")
    result = run_build(root, tmp_path / "out")
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert result.returncode != 0
    line = "book/_data/speakers.yml: speakers[0].visibel: unknown key; did you mean 'visible'?"
    assert line in output.splitlines()
    assert "Workshop data error:" in output


def test_every_linked_toolkit_asset_is_in_the_build(site: Path) -> None:
    """The CSS, JS and favicon come from the package's static folder (not the book's): each page's
    links to them resolve to files in the build."""
    for page in (site / "book" / "index.html", site / "book" / "posters.html"):
        source = page.read_text(encoding="utf-8")
        pattern = r'(?:href|src)="(?:\.\./)*(_static/(?:codeml-[\w-]+\.(?:css|js)|favicon\.svg))'
        linked = set(re.findall(pattern, source))
        assert {"_static/codeml-site.css", "_static/codeml-a11y.js", "_static/favicon.svg"} <= linked, page
        for rel in linked:
            assert (site / rel).is_file(), rel
    assert not (ROOT / "book" / "_static" / "codeml-site.css").exists()
