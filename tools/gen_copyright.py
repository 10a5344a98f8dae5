"""Write a machine-readable copyright file (Debian's DEP-5 format) for a package that bundles
sorabeat's dependencies: sorabeat's own licence, then one paragraph per bundled distribution with
the licence its metadata declares and the licence text it ships. Derived from the installed
distributions, so it follows whatever versions were bundled.

    python tools/gen_copyright.py SITE_PACKAGES INSTALLED_SITE_PACKAGES > copyright

INSTALLED_SITE_PACKAGES is the directory the files will have once installed (relative to /,
as DEP-5 wants), e.g. usr/share/sorabeat/lib/python3.11/site-packages.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import Distribution, distributions
from pathlib import Path

# The licence names of classifiers and free-text License fields, as DEP-5 short names.
CLASSIFIER_NAMES = {
    "Apache Software License": "Apache-2.0",
    "MIT License": "Expat",
    "BSD License": "BSD-3-clause",
    "Python Software Foundation License": "PSF-2.0",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
}
# SPDX identifiers DEP-5 spells otherwise
SPDX_TO_DEP5 = {"MIT": "Expat", "BSD-3-Clause": "BSD-3-clause", "BSD-2-Clause": "BSD-2-clause"}
APACHE_2_TERMS = "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"
COMMON_LICENSES = {"Apache-2.0": "/usr/share/common-licenses/Apache-2.0"}


def _dep5_names(spdx: str) -> str:
    words = [w.lower() if w in ("OR", "AND") else SPDX_TO_DEP5.get(w, w) for w in spdx.split()]
    return " ".join(words)


def dep5_expression(spdx: str) -> str:
    """SPDX to DEP-5: names as Debian spells them, lower-case operators, and, since DEP-5 has no
    parentheses, "A AND (B OR C)" as "B or C, and A" (a comma ends what "or" binds)."""
    groups = re.findall(r"\(([^()]*)\)", spdx)
    rest = re.sub(r"\([^()]*\)", " ", spdx)
    rest = re.sub(r"\bAND\b(\s+\bAND\b)*", "AND", " ".join(rest.split()))
    rest = " ".join(rest.strip().removeprefix("AND").removesuffix("AND").split())
    if not groups:
        return _dep5_names(spdx)
    if "(" in rest or ")" in rest or " OR " in f" {rest} ":
        raise SystemExit(f"gen_copyright.py: cannot write {spdx!r} in DEP-5")
    parts = [_dep5_names(g) for g in groups] + ([_dep5_names(rest)] if rest else [])
    return ", and ".join(parts)


def licence_of(dist: Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return dep5_expression(expression)
    names = [
        CLASSIFIER_NAMES[c.rsplit(" :: ", 1)[1]]
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::") and c.rsplit(" :: ", 1)[1] in CLASSIFIER_NAMES
    ]
    if names:
        return " or ".join(dict.fromkeys(names))
    free = (meta.get("License") or "").strip()
    if free and "\n" not in free and len(free) < 40:
        return dep5_expression(free)
    raise SystemExit(f"gen_copyright.py: {meta['Name']}: no licence in its metadata")


def holders(dist: Distribution) -> str:
    meta = dist.metadata
    for key in ("Author", "Maintainer"):
        if meta.get(key):
            return str(meta[key])
    for key in ("Author-email", "Maintainer-email"):
        if meta.get(key):
            names = re.findall(r'"?([^,<"]+?)"?\s*<', str(meta[key]))
            return ", ".join(n.strip() for n in names) or str(meta[key])
    return f"the {meta['Name']} authors"


def licence_texts(dist: Distribution) -> list[str]:
    texts = []
    for file in dist.files or []:
        name = file.name.upper()
        if ".dist-info" in str(file) and name.startswith(("LICENSE", "LICENCE", "COPYING")):
            texts.append(file.read_text().strip() if file.locate().is_file() else "")
    # the Apache 2.0 text itself is referred to, not copied (as Debian's copyright files do)
    return [t for t in texts if t and APACHE_2_TERMS not in t]


def indented(text: str) -> list[str]:
    return [" " + line if line.strip() else " ." for line in text.splitlines()]


def top_level(dist: Distribution) -> list[str]:
    names = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith(".dist-info") or first in ("..", "bin") or first == "__pycache__":
            continue
        names.add(first)
    return sorted(names)


def render(site: Path, installed: str) -> str:
    lines = [
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
        "Upstream-Name: sorabeat",
        "Comment: the dependencies are bundled in a virtualenv; their licences are taken from",
        " the metadata of the installed distributions.",
        "",
        "Files: *",
        "Copyright: the sorabeat authors",
        "License: Apache-2.0",
    ]
    paragraphs = {"Apache-2.0"}
    for dist in sorted(distributions(path=[str(site)]), key=lambda d: d.metadata["Name"].lower()):
        name = dist.metadata["Name"]
        if name == "sorabeat":
            continue
        licence = licence_of(dist)
        lines += ["", "Files:"]
        lines += [f" {installed}/{entry}" for entry in top_level(dist)]
        lines.append(f"Copyright: {holders(dist)}")
        lines.append(f"Comment: {name} {dist.version}")
        if licence in COMMON_LICENSES:
            lines.append(f"License: {licence}")
            continue
        texts = licence_texts(dist)
        if not texts:
            raise SystemExit(f"gen_copyright.py: {name}: ships no licence text")
        lines.append(f"License: {licence}")
        lines += indented("\n\n".join(texts))
        if "Apache-2.0" in licence:
            lines += [" .", " The Apache-2.0 text is in the License: Apache-2.0 paragraph below."]
    for licence in sorted(paragraphs):
        lines += ["", f"License: {licence}"]
        lines.append(f" On Debian systems, the full text of the {licence} licence is in")
        lines.append(f" {COMMON_LICENSES[licence]}.")
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: gen_copyright.py SITE_PACKAGES INSTALLED_SITE_PACKAGES", file=sys.stderr)
        return 2
    sys.stdout.write(render(Path(sys.argv[1]), sys.argv[2].strip("/")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
