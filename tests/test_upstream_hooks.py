"""No class of the toolkit overrides a private name of nbclient, papermill or jupyter_client.

Their private methods change without notice between minor releases; the toolkit
uses their public hooks (nbclient's ``on_cell_*``, jupyter_client's kernel
provisioners, traitlets' ``@default``) instead. The walk imports every module of
``codeml_repro`` and looks at every class defined there.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

import codeml_repro

UPSTREAM = ("jupyter_client", "nbclient", "papermill")


def _toolkit_classes() -> list[type]:
    classes: dict[str, type] = {}
    for info in pkgutil.walk_packages(codeml_repro.__path__, "codeml_repro."):
        module = importlib.import_module(info.name)
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == info.name:
                classes[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(classes.values())


def _body_names(cls: type) -> set[str]:
    """The names the class statement itself binds (methods, assignments), read from its source.

    What a metaclass adds to every class by itself (traitlets' ``_traits``, ``_descriptors``...) is
    not written there, so it is never mistaken for an override. (Comparing with a probe subclass's
    ``vars`` did that once on a CI runner, for reasons not reproduced here.)
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    statement = tree.body[0]
    assert isinstance(statement, ast.ClassDef)
    names: set[str] = set()
    for node in statement.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def private_overrides(cls: type) -> list[str]:
    """``Class.name`` for each ``_name`` (not a dunder) ``cls`` defines that an upstream base defines too."""
    upstream = [b for b in cls.__mro__[1:] if b.__module__.split(".")[0] in UPSTREAM]
    found = []
    for name in sorted(_body_names(cls)):
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        owners = [b for b in upstream if name in vars(b)]
        if owners:
            found.append(f"{cls.__module__}.{cls.__qualname__}.{name} (of {owners[0].__module__})")
    return found


def test_no_toolkit_class_overrides_a_private_upstream_name() -> None:
    classes = _toolkit_classes()
    derived = [c for c in classes if any(b.__module__.split(".")[0] in UPSTREAM for b in c.__mro__[1:])]
    assert len(derived) >= 4  # the walk found the client, the engine, the channels, the provisioner
    found = [o for cls in derived for o in private_overrides(cls)]
    assert found == []


def test_the_check_catches_an_override_of_a_private_method() -> None:
    from nbclient import NotebookClient

    class Overrides(NotebookClient):  # type: ignore[misc]
        async def _check_raise_for_error(self, *args: object) -> None:
            return None

    found = private_overrides(Overrides)
    assert len(found) == 1 and "_check_raise_for_error" in found[0]


def test_what_traitlets_adds_to_a_class_is_not_an_override() -> None:
    """traitlets' metaclass gives every class ``_traits``, ``_descriptors``...; only what the class
    statement writes counts, so a client with a trait and a ``@default`` shows nothing, and one that
    redefines ``_context_default`` shows exactly that."""
    from jupyter_client.asynchronous import AsyncKernelClient
    from traitlets import Int, default

    class Public(AsyncKernelClient):  # type: ignore[misc]
        cap = Int(1)

        @default("context")
        def public_context(self) -> object:
            return None

    class Private(AsyncKernelClient):  # type: ignore[misc]
        def _context_default(self) -> object:
            return None

    assert "_traits" in vars(Public) and private_overrides(Public) == []
    found = private_overrides(Private)
    assert len(found) == 1 and "Private._context_default (of jupyter_client." in found[0]


@pytest.mark.parametrize("name", ["codeml_repro.run.kernel.engine", "codeml_repro.run.sandbox.provisioner"])
def test_the_walk_reaches_the_modules_built_on_upstream_classes(name: str) -> None:
    assert any(c.__module__ == name for c in _toolkit_classes())


def test_the_runner_starts_its_kernel_through_the_codeml_sandbox_provisioner(tmp_path: Path) -> None:
    """jupyter_client finds the provisioner by its entry point, from the kernelspec in the run folder;
    discarding the run kills the kernel and removes the folder, kernelspec included."""
    import json

    import psutil

    from codeml_repro.model.policy import RunPolicy
    from codeml_repro.run.kernel.prepare import discard, prepare
    from codeml_repro.run.sandbox.provisioner import PROVISIONER_NAME, SandboxProvisioner
    from tests.runner_helpers import leftover_processes, make_submission

    sub = make_submission(tmp_path / "prov", ["x = 1"])
    prep = prepare(sub, RunPolicy(sandbox="off", env="current"), timeout_s=30, start_kernel=True)
    try:
        spec = json.loads((prep.dirs.root / "kernels" / "codeml-run" / "kernel.json").read_text())
        assert spec["metadata"]["kernel_provisioner"]["provisioner_name"] == PROVISIONER_NAME
        assert "CODEML_RUN_ID" in spec["metadata"]["kernel_provisioner"]["config"]["launch_env"]
        assert isinstance(prep.km.provisioner, SandboxProvisioner)
        pid = prep.km.provisioner.process.pid
        assert psutil.pid_exists(pid)
    finally:
        discard(prep)
    assert not prep.dirs.root.exists()
    assert leftover_processes(prep.marker) == []


def test_a_checkout_whose_metadata_lacks_the_entry_point_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed metadata older than the entry point (pip install -e . not run again): the runner adds
    codeml-sandbox to jupyter_client's map of provisioners for its own process, and the run works."""
    import importlib.metadata as metadata

    import jupyter_client.provisioning.factory as factory_module
    from jupyter_client.provisioning.factory import KernelProvisionerFactory

    from codeml_repro.run.sandbox.provisioner import PROVISIONER_NAME, provisioner_registered
    from tests.runner_helpers import make_submission, run

    real = metadata.entry_points

    def without_ours(**kw: Any) -> Any:
        found = real(**kw)
        return metadata.EntryPoints(e for e in found if e.name != PROVISIONER_NAME)

    monkeypatch.setattr(metadata, "entry_points", without_ours)
    monkeypatch.setattr(factory_module, "entry_points", without_ours)
    monkeypatch.delitem(KernelProvisionerFactory.provisioners, PROVISIONER_NAME, raising=False)
    assert not provisioner_registered()
    ex = run(make_submission(tmp_path / "old-metadata", ["print(6 * 7)"]))
    assert ex.outcome == "completed", ex.error
    assert PROVISIONER_NAME in KernelProvisionerFactory.provisioners
