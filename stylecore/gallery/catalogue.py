"""The built-in styles: public-domain paintings that ship with the package, and what to call them.

Light on purpose: no PyTorch here, so the bot can list the styles at start-up. The images are read
from the package (importlib.resources), so an installed wheel works the same as a checkout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from ..images import load_image

if TYPE_CHECKING:
    from collections.abc import Mapping

    from PIL import Image

    from ..options import StyleOptions

#: The package folder holding the image files (and LICENSES.md, their sources and licences).
PAINTINGS_DIR = "paintings"
#: A built-in's name as typed in commands: lowercase words joined by hyphens.
NAME_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class BuiltinStyle:
    """One built-in style: a painting, its command name, and its own default settings, if any."""

    name: str
    """What commands take, e.g. "great-wave"."""
    title: str
    """The painting, its artist and year, e.g. "The Great Wave off Kanagawa — Katsushika Hokusai, c. 1831"."""
    filename: str
    """The image file in the package's paintings folder."""
    style_scale: float | None = None
    """`StyleOptions.style_scale` for this painting; None keeps the usual default."""
    style_weight: float | None = None
    """`StyleOptions.style_weight` (the style strength) for this painting; None keeps the usual default."""
    why: str = ""
    """Why the defaults above were chosen (what the comparison runs showed); empty when there are none."""

    @property
    def defaults(self) -> Mapping[str, float]:
        """The painting's own settings, keyed by `StyleOptions` field name (empty: the usual defaults)."""
        values = {"style_scale": self.style_scale, "style_weight": self.style_weight}
        return {field: value for field, value in values.items() if value is not None}

    def apply_defaults(self, options: StyleOptions) -> StyleOptions:
        """`options` with this painting's own settings; apply what the user chose explicitly after this."""
        return options.with_values(**self.defaults)

    def read_bytes(self) -> bytes:
        """The image file's bytes, as a member's upload would arrive (for a job's payload or a hash)."""
        return resources.files(__package__).joinpath(PAINTINGS_DIR, self.filename).read_bytes()

    def load(self) -> Image.Image:
        """The painting as an RGB image, decoded like any style image (`stylecore.images.load_image`)."""
        return load_image(self.read_bytes(), name=self.filename)


#: Every built-in, in display order: the best-known first, then alternating look and technique so
#: neighbours in a picker or on the contact sheet differ. Own settings come from looking at runs on
#: examples/cat.png (256 px, 100 iterations, one seed) at style scale 0.5, 1 and 2 and style weight 1
#: and 3 (and 0.3 for the first five alphabetically), the candidates again at 512 px; a painting keeps
#: a setting of its own only where it was clearly better.
BUILTIN_STYLES: tuple[BuiltinStyle, ...] = (
    BuiltinStyle("starry-night", "The Starry Night — Vincent van Gogh, 1889", "starry-night.jpg"),
    BuiltinStyle("great-wave", "The Great Wave off Kanagawa — Katsushika Hokusai, c. 1831", "great-wave.jpg"),
    BuiltinStyle("water-lilies", "Water Lilies — Claude Monet, 1919", "water-lilies.jpg"),
    BuiltinStyle(
        "grande-jatte",
        "Study for A Sunday on La Grande Jatte — Georges Seurat, 1884",
        "grande-jatte.jpg",
        style_scale=2.0,
        why="at 1.0 the painting's little figures and trees are copied into the photo (cat, 256 and 512 px); "
        "at 2.0 only its dotted brushwork is, and the photo stays legible",
    ),
    BuiltinStyle("woman-with-hat", "Woman with a Hat — Henri Matisse, 1905", "woman-with-hat.jpg"),
    BuiltinStyle("the-kiss", "The Kiss — Gustav Klimt, 1907–08", "the-kiss.jpg"),
    BuiltinStyle("composition-vii", "Composition VII — Wassily Kandinsky, 1913", "composition-vii.jpg"),
    BuiltinStyle(
        "tableau-no-2",
        "Tableau No. 2 / Composition No. VII — Piet Mondrian, 1913",
        "tableau-no-2.jpg",
        style_scale=2.0,
        why="at 1.0 its blocks shrink to a fine mosaic (cat, 256 and 512 px); at 2.0 they keep the painting's "
        "proportions and black grid lines",
    ),
    BuiltinStyle("reverie", "Rêverie — Alphonse Mucha, 1897", "reverie.jpg"),
    BuiltinStyle(
        "fuchun-mountains", "Dwelling in the Fuchun Mountains — Huang Gongwang, 1347–50", "fuchun-mountains.jpg"
    ),
)


def normalise_name(name: str) -> str:
    """The form names are compared in: case-folded, trimmed, spaces and underscores as hyphens.

    So "Great Wave" finds great-wave, and a server preset called that can be told it is taken.
    """
    return re.sub(r"[\s_]+", "-", name.strip()).casefold()


def find_builtin(name: str) -> BuiltinStyle | None:
    """The built-in called `name` (compared as `normalise_name` does), or None."""
    wanted = normalise_name(name)
    return next((style for style in BUILTIN_STYLES if style.name == wanted), None)


def builtin_names() -> tuple[str, ...]:
    """The built-ins' names in display order (for messages that list them)."""
    return tuple(style.name for style in BUILTIN_STYLES)
