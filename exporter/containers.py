"""Which container, pod or service a process runs in: ``/proc/<pid>/cgroup`` and the runtimes' state on disk.

Two steps, both for live collection only (a replay capture's PIDs belong to another machine):

1. :func:`identity_from_cgroup` reads the text of ``/proc/<pid>/cgroup`` (pure, no I/O) and
   recognises the runtime from the cgroup path the runtime or the kubelet chose::

       12:memory:/docker/31cb0294...ee30                                        -> docker (cgroupfs driver, v1)
       0::/system.slice/docker-47335b04...9e6c.scope                           -> docker (systemd driver, v2)
       0::/kubepods.slice/kubepods-burstable.slice/
          kubepods-burstable-pod<uid_with_underscores>.slice/
          cri-containerd-f45298cd...b830.scope                                 -> containerd, pod <uid>
       11:devices:/kubepods/besteffort/pod74ba62da-...-080027cb0e22/cb1eadb7...c32c -> containerd (cgroupfs driver)
       0::/kubepods.slice/kubepods-pod<uid>.slice/crio-<id>.scope              -> cri-o (guaranteed QoS: no level)
       0::/kubepods.slice/.../crio-conmon-<id>.scope                           -> host (CRI-O's monitor, not the container)
       0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-<id>.scope/container -> podman (rootless)
       0::/system.slice/vllm.service                                           -> systemd, unit vllm.service
       0::/user.slice/user-1000.slice/session-3.scope                          -> host

2. :class:`RuntimeState` adds the names the runtime wrote to disk for that container id, under
   ``--path.rootfs`` (a container id never changes its names, so each id is read once and cached).

Rules of step 1, per cgroup path (segments split on ``/``; ``..`` segments, which a reader in
another cgroup namespace sees, are skipped):

* The innermost segment naming a container wins (Docker-in-Docker ``/docker/<a>/docker/<b>`` is ``b``;
  a sub-cgroup after the id, ``.../libpod-<id>.scope/container`` or ``.../<id>/kube-proxy``, is ignored).
  Prefixes: ``docker-`` docker, ``cri-containerd-`` containerd (also containerd 1.4's
  ``<slice>:cri-containerd:<id>`` form), ``crio-`` cri-o, ``libpod-`` podman (also
  ``libpod-payload-``, podman's split cgroup mode), ``nerdctl-`` containerd.
  ``crio-conmon-<id>`` / ``libpod-conmon-<id>`` (the runtimes' monitor processes, outside the
  container) name no container: ``host``, or the container around them when nested in one.
* A bare 64-hex segment is a container without a runtime prefix: ``docker`` under a ``docker`` parent
  (Docker's cgroupfs driver), else under ``kubepods`` ``containerd`` (the kubelet's cgroupfs driver;
  CRI-O always writes ``crio-``), else ``docker``. Those guesses are marked
  :attr:`CgroupIdentity.runtime_inferred` and :class:`RuntimeState` settles them by which runtime has
  state for the id.
* The pod UID comes from a ``kubepods[-<qos>]-pod<uid>.slice`` segment (systemd driver: ``_`` back to
  ``-``) or a ``pod<uid>`` segment (cgroupfs driver), only in a path under ``kubepods``. Static pods'
  UIDs are 32 hex digits without dashes and stay so.
* No container: the innermost ``<name>.service`` segment (other than the per-user manager
  ``user@<uid>.service``) is a plain systemd service; anything else (``/``, session and other scopes,
  unknown slices) is ``host``.

Of the several lines of a cgroup v1 file (one per hierarchy, some of them ``/``), the first one that
names a container wins, else the first naming a service, else ``host``.

Sources of the formats (public material, read while writing this module):
``/proc/<pid>/cgroup`` line format ``hierarchy-ID:controller-list:cgroup-path`` (``0::<path>`` on the v2
unified hierarchy, a `` (deleted)`` suffix for a removed cgroup): Linux ``man 7 cgroups``. Real lines of
every runtime above: neuvector/neuvector ``share/system/cgroup_test.go`` (Docker on Debian, CentOS,
Ubuntu, RancherOS; kubepods cgroupfs and systemd; Bottlerocket containerd; CRI-O 1.17 and 1.19;
containerd 1.2.13 and 1.4.4); rootless podman ``libpod-<id>.scope/container`` from public
container-id parser tests; CRI-O's ``crio-conmon-<id>`` cgroup for conmon from cri-o/cri-o
``internal/oci``. See tests/fixtures/procfs/README.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .snapshot import CollectionError, Container

#: The values of :attr:`Container.runtime`.
RUNTIMES = ("docker", "containerd", "cri-o", "podman", "systemd", "host")

_ID = r"[0-9a-f]{64}"
_PREFIX_RUNTIME = {
    "docker": "docker",
    "cri-containerd": "containerd",
    "crio": "cri-o",
    "libpod": "podman",
    "libpod-payload": "podman",
    "nerdctl": "containerd",
}
# "<prefix>-<id>[.scope]" as a whole segment, or ":<prefix>:<id>" at its end (containerd 1.4 with systemd cgroups on v1)
_PREFIXED = re.compile(r"(?:^|:)(docker|cri-containerd|crio|libpod-payload|libpod|nerdctl)[-:](" + _ID + r")(?:\.scope)?$")
_BARE = re.compile(r"^(" + _ID + r")$")
_UID = r"[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32}"
_POD_SYSTEMD = re.compile(r"^kubepods(?:-[a-z]+)?-pod(" + _UID + r")\.slice(?::|$)")
_POD_CGROUPFS = re.compile(r"^pod(" + _UID + r")$")
_USER_MANAGER = re.compile(r"^user@\d+\.service$")
_LINE = re.compile(r"^(\d+):([^:]*):(/.*)$")
_DELETED = " (deleted)"


class CgroupFormatError(ValueError):
    """A ``/proc/<pid>/cgroup`` line that is not ``hierarchy-id:controllers:/path``.

    ``line_number`` counts from 1; ``line`` is the offending text. ``str()`` reads
    ``line 3: 'garbage' is not hierarchy-id:controllers:/path``; the caller prefixes the file name.
    """

    def __init__(self, line_number: int, line: str, reason: str):
        super().__init__(f"line {line_number}: {line[:120]!r} {reason}")
        self.line_number = line_number
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class CgroupLine:
    """One line of ``/proc/<pid>/cgroup``: ``hierarchy`` (0 on cgroup v2), ``controllers`` (``""`` on v2), ``path``."""

    hierarchy: int
    controllers: str
    path: str


@dataclass(frozen=True)
class CgroupIdentity:
    """What a cgroup path says about a process, before the runtime's state is read.

    ``runtime`` / ``id`` / ``pod_uid`` / ``systemd_unit`` as in :class:`Container`.
    ``runtime_inferred`` is True when ``id`` came from a bare 64-hex segment and ``runtime``
    is a guess (see the module docstring) that :class:`RuntimeState` may correct.
    """

    runtime: str = "host"
    id: str = ""
    pod_uid: str = ""
    systemd_unit: str = ""
    runtime_inferred: bool = False

    def container(self) -> Container:
        """The :class:`Container` this identity names, without names from the runtime's state."""
        return Container(runtime=self.runtime, id=self.id, pod_uid=self.pod_uid, systemd_unit=self.systemd_unit)

    @property
    def _rank(self) -> int:
        return 3 if self.id else 2 if self.systemd_unit else 1


def parse_cgroup(text: str) -> list[CgroupLine]:
    """Split the text of ``/proc/<pid>/cgroup`` into lines; blank lines are skipped.

    A `` (deleted)`` suffix (the cgroup was removed while the process lived) is dropped from the path.
    Raises :class:`CgroupFormatError` naming the first line that is not ``<digits>:<controllers>:/<path>``.
    """
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        match = _LINE.match(raw)
        if match is None:
            raise CgroupFormatError(number, raw, "is not hierarchy-id:controllers:/path")
        path = match.group(3)
        if path.endswith(_DELETED):
            path = path[: -len(_DELETED)]
        lines.append(CgroupLine(int(match.group(1)), match.group(2), path))
    return lines


def classify_cgroup_path(path: str) -> CgroupIdentity:
    """The runtime, container id, pod UID or systemd unit one cgroup path names (rules in the module docstring)."""
    segments = [s for s in path.split("/") if s and s not in (".", "..")]
    in_kubepods = any(s.startswith("kubepods") for s in segments)
    pod_uid = ""
    if in_kubepods:
        for segment in segments:
            match = _POD_SYSTEMD.match(segment) or _POD_CGROUPFS.match(segment)
            if match:
                pod_uid = match.group(1).replace("_", "-")
    for index in range(len(segments) - 1, -1, -1):
        segment = segments[index]
        match = _PREFIXED.search(segment)
        if match:
            return CgroupIdentity(_PREFIX_RUNTIME[match.group(1)], match.group(2), pod_uid)
        match = _BARE.match(segment)
        if match:
            if "docker" in segments[:index]:
                return CgroupIdentity("docker", match.group(1), pod_uid)
            guess = "containerd" if in_kubepods else "docker"
            return CgroupIdentity(guess, match.group(1), pod_uid, runtime_inferred=True)
    for segment in reversed(segments):
        if segment.endswith(".service") and not _USER_MANAGER.match(segment):
            return CgroupIdentity("systemd", systemd_unit=segment)
    return CgroupIdentity()


def identity_from_cgroup(text: str) -> CgroupIdentity:
    """The identity of a process from the whole text of its ``/proc/<pid>/cgroup``.

    Of all lines, the first naming a container wins, else the first naming a systemd service, else
    ``host``. Raises :class:`CgroupFormatError` for a malformed line, and for a file without any line
    (``line 0``); a live process always has at least one.
    """
    lines = parse_cgroup(text)
    if not lines:
        raise CgroupFormatError(0, "", "no cgroup lines in the file")
    best = CgroupIdentity()
    for line in lines:
        identity = classify_cgroup_path(line.path)
        if identity._rank > best._rank:
            best = identity
            if best._rank == 3:
                break
    return best


# --- names from the runtimes' state on disk ------------------------------------------------------

#: containerd's OCI bundle per task: ``<rootfs>/run/containerd/<runtime>/<namespace>/<id>/config.json``.
#: ``io.containerd.runtime.v2.task`` (containerd >= 1.2 shims), namespace ``k8s.io`` for the CRI plugin
#: and ``default`` for nerdctl/ctr; ``io.containerd.runtime.v1.linux`` for containerd 1.1-era hosts.
CONTAINERD_BUNDLES = (
    "run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/config.json",
    "run/containerd/io.containerd.runtime.v2.task/default/{id}/config.json",
    "run/containerd/io.containerd.runtime.v1.linux/k8s.io/{id}/config.json",
)
#: CRI-O saves the OCI spec twice (cri-o/cri-o ``server/container_create_linux.go``:
#: ``specgen.SaveToFile`` into ``containerInfo.RunDir`` and ``containerInfo.Dir``): the run root
#: (``/run/containers/storage``) and the graph root (``/var/lib/containers/storage``).
CRIO_CONFIGS = (
    "run/containers/storage/overlay-containers/{id}/userdata/config.json",
    "var/lib/containers/storage/overlay-containers/{id}/userdata/config.json",
)
#: Docker >= 1.10 keeps each container's config in ``/var/lib/docker/containers/<id>/config.v2.json``
#: (``"Name": "/<name>"``, ``"Config": {"Labels": {...}}``; moby/moby ``container/container.go``).
DOCKER_CONFIG = "var/lib/docker/containers/{id}/config.v2.json"
#: containers/storage's list of containers (``[{"id": ..., "names": [...]}, ...]``,
#: containers/storage ``containers.go`` ``Container.Names``), root podman's graph root.
PODMAN_CONTAINERS = "var/lib/containers/storage/overlay-containers/containers.json"

#: OCI annotations the containerd CRI plugin sets on every Kubernetes container
#: (containerd ``pkg/cri/annotations``: ``SandboxName``, ``SandboxNamespace``, ``SandboxUID``, ``ContainerName``).
CONTAINERD_ANNOTATIONS = (
    "io.kubernetes.cri.sandbox-name",
    "io.kubernetes.cri.sandbox-namespace",
    "io.kubernetes.cri.container-name",
    "io.kubernetes.cri.sandbox-uid",
)
#: OCI annotations in CRI-O's saved spec: the kubelet's container labels, which CRI-O copies into the
#: spec (the ``CRIO_SANDBOX_NAME`` / ``CRIO_SANDBOX_NAMESPACE`` / ``CRIO_CONTAINER_NAME`` keys OCI hooks
#: read from ``config.json``): pod name, namespace, container name, pod UID.
CRIO_ANNOTATIONS = ("io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.container.name", "io.kubernetes.pod.uid")
#: Labels dockershim (Kubernetes < 1.24) put on Docker containers; same keys as CRI-O's annotations.
DOCKERSHIM_LABELS = CRIO_ANNOTATIONS


@dataclass(frozen=True)
class _Names:
    runtime: str
    pod_name: str = ""
    namespace: str = ""
    name: str = ""
    pod_uid: str = ""


class RuntimeState:
    """Names of containers from their runtime's state files under ``rootfs`` (``--path.rootfs``), cached per id.

    For a container id (always 64 hex, so never a path trick) it reads, by runtime:

    * containerd: :data:`CONTAINERD_BUNDLES`, annotations :data:`CONTAINERD_ANNOTATIONS`
      -> ``pod_name``, ``namespace``, ``name`` (the container's name in the pod), ``pod_uid``;
    * cri-o: :data:`CRIO_CONFIGS`, annotations :data:`CRIO_ANNOTATIONS`;
    * docker: :data:`DOCKER_CONFIG`: ``Name`` without its leading ``/``; with dockershim labels
      :data:`DOCKERSHIM_LABELS`, the pod's names and the Kubernetes container name instead;
    * podman (rootful): :data:`PODMAN_CONTAINERS`, the first of ``names``. Rootless podman keeps its
      state in the user's home; its containers keep only runtime and id.

    For an id whose runtime was inferred (a bare cgroup segment) every runtime is tried, the guess
    first, and the one that has state for the id becomes the runtime.

    A missing file is no error (the rootfs is not mounted, or the runtime keeps state elsewhere): the
    names stay ``""``. An unreadable file or bad JSON is a :class:`CollectionError` (source
    ``"rootfs"``, kind ``"io"`` or ``"parse"``, location the file) reported once per container id.
    Results, empty ones included, are cached: at most ``max_entries`` ids, and :meth:`end_cycle` forgets
    the ids not asked about since the previous call. Not thread-safe: one instance per collection loop.
    """

    def __init__(self, rootfs: str = "/", max_entries: int = 4096):
        self.rootfs = Path(rootfs)
        self.max_entries = max_entries
        self._cache: dict[str, _Names] = {}
        self._seen: set[str] = set()

    def describe(self, identity: CgroupIdentity, errors: list[CollectionError]) -> Container:
        """The :class:`Container` for ``identity``, with names from the runtime's state where it has them.

        Problems reading state files are appended to ``errors``; this never raises for them.
        """
        container = identity.container()
        if not identity.id:
            return container
        self._seen.add(identity.id)
        names = self._cache.get(identity.id)
        if names is None:
            names = self._lookup(identity, errors)
            if len(self._cache) < self.max_entries:
                self._cache[identity.id] = names
        return replace(
            container,
            runtime=names.runtime,
            pod_uid=identity.pod_uid or names.pod_uid,
            pod_name=names.pod_name,
            namespace=names.namespace,
            name=names.name,
        )

    def end_cycle(self) -> None:
        """Forget cached ids not described since the last call (containers that are gone)."""
        self._cache = {key: value for key, value in self._cache.items() if key in self._seen}
        self._seen = set()

    def __len__(self) -> int:
        return len(self._cache)

    def _lookup(self, identity: CgroupIdentity, errors: list[CollectionError]) -> _Names:
        readers = {"containerd": self._containerd, "cri-o": self._crio, "docker": self._docker, "podman": self._podman}
        if identity.runtime_inferred:
            order = [identity.runtime] + [r for r in ("containerd", "docker", "cri-o") if r != identity.runtime]
        else:
            order = [identity.runtime]
        for runtime in order:
            reader = readers.get(runtime)
            names = reader(identity.id, errors) if reader else None
            if names is not None:
                return names
        return _Names(identity.runtime)

    def _json(self, relative: str, errors: list[CollectionError]) -> tuple[bool, object]:
        """(found, document) for a JSON file under rootfs; (True, None) when it exists but is unusable."""
        path = self.rootfs / relative
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            return False, None
        except OSError as exc:
            errors.append(CollectionError("rootfs", str(path), "io", f"cannot read container runtime state: {exc.strerror or exc}"))
            return True, None
        try:
            return True, json.loads(text)
        except json.JSONDecodeError as exc:
            errors.append(
                CollectionError(
                    "rootfs",
                    f"{path}:{exc.lineno}",
                    "parse",
                    f"container runtime state is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                )
            )
            return True, None

    def _annotated(
        self, runtime: str, templates: tuple[str, ...], keys: tuple[str, ...], container_id: str, errors: list[CollectionError]
    ) -> _Names | None:
        for template in templates:
            found, document = self._json(template.format(id=container_id), errors)
            if not found:
                continue
            annotations = _string_map(document, "annotations")
            pod_name, namespace, name, pod_uid = (annotations.get(key, "") for key in keys)
            return _Names(runtime, pod_name, namespace, name, pod_uid)
        return None

    def _containerd(self, container_id: str, errors: list[CollectionError]) -> _Names | None:
        return self._annotated("containerd", CONTAINERD_BUNDLES, CONTAINERD_ANNOTATIONS, container_id, errors)

    def _crio(self, container_id: str, errors: list[CollectionError]) -> _Names | None:
        return self._annotated("cri-o", CRIO_CONFIGS, CRIO_ANNOTATIONS, container_id, errors)

    def _docker(self, container_id: str, errors: list[CollectionError]) -> _Names | None:
        found, document = self._json(DOCKER_CONFIG.format(id=container_id), errors)
        if not found:
            return None
        labels = _string_map(document.get("Config") if isinstance(document, dict) else None, "Labels")
        pod_name, namespace, k8s_name, pod_uid = (labels.get(key, "") for key in DOCKERSHIM_LABELS)
        name = document.get("Name", "") if isinstance(document, dict) else ""
        name = k8s_name or (name.lstrip("/") if isinstance(name, str) else "")
        return _Names("docker", pod_name, namespace, name, pod_uid)

    def _podman(self, container_id: str, errors: list[CollectionError]) -> _Names | None:
        found, document = self._json(PODMAN_CONTAINERS, errors)
        if not found or not isinstance(document, list):
            return None
        for entry in document:
            if isinstance(entry, dict) and entry.get("id") == container_id:
                names = entry.get("names") or [""]
                return _Names("podman", name=str(names[0]))
        return None


def _string_map(document: object, key: str) -> dict[str, str]:
    """``document[key]`` when it is a JSON object, keeping its string values; else ``{}``."""
    value = document.get(key) if isinstance(document, dict) else None
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
