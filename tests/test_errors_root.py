"""Every error the toolkit raises on purpose derives from ReproError (CONTRIBUTING.md), and each
one crosses a process boundary (--jobs) intact: the tests walk every module of codeml_repro."""

from __future__ import annotations

import importlib
import pickle
import pkgutil
from types import ModuleType

import codeml_repro
from codeml_repro.model.errors import DataUnavailable, ReproError, SubmissionFault

ALLOWED = {
    # A yaml.YAMLError by contract: load_bounded raises that for every unreadable document, and
    # each reader turns it into its own InputError naming the file (see its docstring).
    "codeml_repro.model.safeyaml._Refused",
    # Runs as a script inside the sandbox on the standard library only; it never leaves the proxy
    # (it becomes the HTTP error the notebook's request receives).
    "codeml_repro.run.sandbox.proxy_inside.Unanswered",
    # Not an error: SIGTERM as the KeyboardInterrupt every clean-up path catches (see its docstring).
    "codeml_repro.cli.options.Terminated",
}


def _modules() -> list[ModuleType]:
    """Every module of the package, imported (``__main__`` would run the command)."""
    names = [codeml_repro.__name__]
    for info in pkgutil.walk_packages(codeml_repro.__path__, prefix="codeml_repro."):
        if not info.name.endswith(".__main__"):
            names.append(info.name)
    return [importlib.import_module(name) for name in names]


def _exception_classes() -> dict[str, type[BaseException]]:
    """Exception classes defined in codeml_repro (at module level), by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for module in _modules():
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, BaseException)
                    and value.__module__ == module.__name__):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_exception_class_is_a_repro_error() -> None:
    found = _exception_classes()
    assert len(found) > 20  # the walk reached the package (errors.py alone defines more than 15)
    stray = sorted(n for n, cls in found.items() if not issubclass(cls, ReproError) and n not in ALLOWED)
    assert not stray, f"derive these from model/errors.py ReproError (or allow them, saying why): {stray}"
    stale = sorted(ALLOWED - set(found))
    assert not stale, f"allowed but no longer defined (or now a ReproError): {stale}"
    assert not [name for name in ALLOWED if issubclass(found[name], ReproError)]


def test_every_repro_error_survives_pickling() -> None:
    """Errors cross process boundaries (--jobs): each comes back as itself, with its one line."""
    errors = {name: cls for name, cls in _exception_classes().items() if issubclass(cls, ReproError)}
    for name, cls in errors.items():
        error = cls("some/file.yml: field: the problem")
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is cls, name
        assert str(copy) == "some/file.yml: field: the problem", name


def test_the_former_strays_sit_where_their_handlers_expect() -> None:
    """Each former plain Exception sits under the root where its handler expects it."""
    from codeml_repro.model.errors import DataProblem
    from codeml_repro.run.inputs.hfhub import HfUnavailable
    from codeml_repro.run.inputs.transfer import Stopped
    from codeml_repro.run.inputs.unpack import UnpackError
    from codeml_repro.run.kernel.wire import MalformedMessage
    from codeml_repro.sphinx.workshop.site import CodemlDataError

    assert issubclass(HfUnavailable, DataUnavailable)  # an input not fetched: its submission's result
    assert issubclass(UnpackError, DataProblem)
    assert issubclass(MalformedMessage, SubmissionFault)
    # a stop passes through the handlers that fall back on a DataProblem (a mirror miss)
    assert not issubclass(Stopped, DataProblem)
    from sphinx.errors import SphinxError

    assert issubclass(CodemlDataError, SphinxError)  # Sphinx stops with one line, no traceback
    assert str(CodemlDataError("book/_data/people.yml: x: bad")) == "book/_data/people.yml: x: bad"
