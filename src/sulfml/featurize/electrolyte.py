"""Our solid-electrolyte descriptors as matminer featurizers over a pymatgen Composition. Each is a thin
one-row wrapper around its vectorized kernel in `descriptors.py` or `family.py` (the one implementation; rules
and labels in `rules.py`), so they mix with matminer's own featurizers in a `MultipleFeaturizer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from matminer.featurizers.base import BaseFeaturizer
from pymatgen.core import Composition

from sulfml.chem.batch import CompositionBatch, composition_batch
from sulfml.chem.build import cation_radius, nominal_valence  # noqa: F401  (re-exported)
from sulfml.featurize import descriptors, rules
from sulfml.featurize.family import electrolyte_family, family_codes, family_index
from sulfml.featurize.rules import (  # noqa: F401  (re-exported: callers import them from here)
    ANIONS,
    ELEMENTS,
    FAMILIES,
    HALOGENS,
    family_from_label,
    synthesis_flags,
)

if TYPE_CHECKING:
    from typing import TypeAlias

    # `featurize_rows`' columns after the composition: the `inputs` notation, tags and family.
    _TextColumns: TypeAlias = tuple[Sequence[Any], Sequence[Any], Sequence[Any]]


def as_composition(comp: Composition | Mapping[str, float] | str) -> Composition:
    """A pymatgen Composition from a Composition, an element->amount dict or a formula string."""
    if isinstance(comp, Composition):
        return comp
    if isinstance(comp, Mapping):
        return Composition({el: float(x) for el, x in comp.items() if float(x) > 0})
    return Composition(comp)


def amounts(comp: Composition | Mapping[str, float] | str) -> dict[str, float]:
    """Element symbol -> amount, oxidation states and isotopes folded into their element."""
    out: dict[str, float] = {}
    for el, x in as_composition(comp).element_composition.items():
        sym = el.symbol if el.symbol != "D" else "H"
        out[sym] = out.get(sym, 0.0) + float(x)
    return out


def composition_row(comp: Composition | Mapping[str, float] | str) -> CompositionBatch:
    """A one-row batch for the batch kernels (`descriptors.py`, `family.py`)."""
    return composition_batch([amounts(comp)])


def anion_atoms(comp: Composition | Mapping[str, float] | str) -> float:
    """Anion atoms in the composition as given, anions as `rules` counts them (Te and H only without O)."""
    return float(descriptors.anion_atoms(composition_row(comp))[0])


class SulfmlFeaturizer(BaseFeaturizer):
    """A matminer featurizer of this package; `inputs` names the frame columns `featurize` takes and
    `labels` (from `rules`) its columns."""

    inputs: tuple[str, ...] = ("composition",)
    labels: tuple[str, ...] = ()

    def feature_labels(self) -> list[str]:
        """The column names, as `rules` declares them."""
        return list(self.labels)

    def citations(self) -> list[str]:
        """No publication: these descriptors are defined in this package."""
        return []

    def implementors(self) -> list[str]:
        """The sulfml authors."""
        return ["sulfml"]


class KernelFeaturizer(SulfmlFeaturizer):
    """A featurizer whose columns one vectorized kernel of `descriptors.py` or `family.py` computes:
    `featurize_rows` runs it on many rows (what `presets.featurize` calls), `featurize` on one (what matminer
    calls)."""

    def featurize_rows(self, compositions: Sequence[Any], *columns: Sequence[Any]) -> np.ndarray:
        """(rows, labels) features of many rows; `columns` are the `inputs` after the composition."""
        return self._kernel(composition_batch([amounts(c) for c in compositions]), *columns)

    def _kernel(self, batch: CompositionBatch, *columns: Sequence[Any]) -> np.ndarray:
        raise NotImplementedError

    def featurize(self, comp: Composition | Mapping[str, float] | str, *row: Any) -> list[float]:
        """Features of one row: the composition and the other `inputs`."""
        return self.featurize_rows([comp], *([value] for value in row))[0].tolist()


class LithiumContent(KernelFeaturizer):
    """How much Li a composition carries, normalised four scale-free ways.

    * ``li_atom_fraction``: Li atoms / all atoms;
    * ``li_per_anion``: Li / anion atoms (NaN without anions);
    * ``li_per_framework_cation``: Li / non-Li cation atoms (NaN without them, e.g. Li3N, Li3OCl);
    * ``li_anion_charge_fraction``: Li / total nominal anion charge, the share of the anion charge that
      Li compensates (Li3PS4: 3 / (4 x 2) = 0.375; NaN without anions).
    """

    labels = rules.LITHIUM_LABELS

    def _kernel(self, batch: CompositionBatch, *columns: Sequence[Any]) -> np.ndarray:
        return descriptors.lithium_content(batch)


class AnionFramework(KernelFeaturizer):
    """Make-up of the anion sublattice.

    ``anion_frac_<El>`` is each anion's share of the anion atoms (O, S, Se, Te, N, F, Cl, Br, I, H);
    ``halogen_share_<El>`` each halogen's share of the halogen atoms (0 when there is no halogen);
    ``halogen_mixing_entropy`` the ideal mixing entropy of those shares (in units of k_B);
    ``mixed_anion`` is 1 with more than one anion element, ``mixed_halogen`` with more than one halogen.
    """

    labels = rules.ANION_LABELS

    def _kernel(self, batch: CompositionBatch, *columns: Sequence[Any]) -> np.ndarray:
        return descriptors.anion_framework(batch)


class FrameworkCations(KernelFeaturizer):
    """Which non-Li cations build the framework.

    ``framework_share_<El>`` is each listed element's share of the non-Li cation atoms,
    ``framework_share_other`` the rest; all 0 when there are no non-Li cations.
    """

    labels = rules.FRAMEWORK_LABELS

    def _kernel(self, batch: CompositionBatch, *columns: Sequence[Any]) -> np.ndarray:
        return descriptors.framework_cations(batch)


class SynthesisNotation(KernelFeaturizer):
    """0/1 flags read from the parser's notation, the tags and the data's family label
    (`rules.synthesis_flags`)."""

    inputs = ("composition", "notation", "tags", "family")
    labels = rules.FLAG_LABELS

    def featurize_rows(self, compositions: Sequence[Any], *columns: Sequence[Any]) -> np.ndarray:
        """(rows, flags): the composition is not used."""
        return descriptors.synthesis_notation(*cast("_TextColumns", columns), n=len(compositions))

    def featurize(self, comp: Any, notation: Any = "plain", tags: Any = "", family: Any = None) -> list[float]:
        """Flags of one row (the composition is not used)."""
        return super().featurize(comp, notation, tags, family)


def family_from_composition(comp: Composition | Mapping[str, float] | str, glass: bool = False) -> str:
    """Structural family guessed from the composition alone (rules and windows: `rules.py`, README.md).

    Args:
        comp: the composition.
        glass: the row is a glass: only the thiophosphate pattern (without its S/P window) applies.

    Returns:
        One of `FAMILIES`.
    """
    return FAMILIES[int(family_codes(composition_row(comp), [glass])[0])]


def classify_family(comp: Composition | Mapping[str, float] | str, notation: Any = "plain", tags: Any = "",
                    family: Any = None) -> str:
    """One row's family: the data label when it names a structure family, else the composition pattern."""
    return FAMILIES[int(family_index(composition_row(comp), [notation], [tags], [family])[0])]


class ElectrolyteFamily(KernelFeaturizer):
    """One-hot structural family (``family_<name>`` for each of `FAMILIES`), see `classify_family`."""

    inputs = ("composition", "notation", "tags", "family")
    labels = rules.FAMILY_LABELS

    def _kernel(self, batch: CompositionBatch, *columns: Sequence[Any]) -> np.ndarray:
        return electrolyte_family(batch, *cast("_TextColumns", columns))

    def featurize(self, comp: Any, notation: Any = "plain", tags: Any = "", family: Any = None) -> list[float]:
        """One-hot family of one row."""
        return super().featurize(comp, notation, tags, family)


class MaterialState(KernelFeaturizer):
    """One-hot state (``state_crystalline``, ``state_glass``, ``state_glass_ceramic``, ``state_unknown``) from
    the row's `state` (`sulfml.parse.state`). A preset with this featurizer also reads the glass flags and the
    glass family rules from the state alone (`rules.notation_for_state`)."""

    inputs = ("composition", "state")
    labels = rules.STATE_LABELS

    def featurize_rows(self, compositions: Sequence[Any], *columns: Sequence[Any]) -> np.ndarray:
        """(rows, states): the composition is not used."""
        return descriptors.material_state(columns[0], n=len(compositions))

    def featurize(self, comp: Any, state: Any = "unknown") -> list[float]:
        """One-hot state of one row (the composition is not used)."""
        return super().featurize(comp, state)


class ElementFractions(KernelFeaturizer):
    """The fractional composition as a fixed vector: ``elem_frac_<El>`` is the atom fraction of each of
    `ELEMENTS` (H to Pu; deuterium counts as H), so the row sums to 1 for any composition of those elements.

    Besides being features, these columns are the space of the out-of-fold nearest-neighbour target features
    (`sulfml.model.knn`).
    """

    labels = rules.FRACTION_LABELS

    def _kernel(self, batch: CompositionBatch, *columns: Sequence[Any]) -> np.ndarray:
        return descriptors.element_fractions(batch)


class ElementEmbedding(KernelFeaturizer):
    """An element embedding learned for materials, pooled over the composition: the atom-fraction-weighted mean
    of the element vectors and their weighted spread (``megnet16_mean_0`` ... ``megnet16_std_15``).

    The vectors ship with sulfml (`sulfml.chem.elements.element_embedding`, built from the `elementembeddings`
    package); a composition with an element the embedding lacks gets NaN, not a partial average.

    Args:
        name: a shipped embedding (`sulfml.chem.elements.EMBEDDINGS`): "megnet16".
    """

    def __init__(self, name: str = "megnet16"):
        self.name = name
        self.labels = rules.embedding_labels(name)

    def _kernel(self, batch: CompositionBatch, *columns: Sequence[Any]) -> np.ndarray:
        return descriptors.embedding_features(batch, self.name)

    def citations(self) -> list[str]:
        return ["@article{chen2019megnet, title={Graph Networks as a Universal Machine Learning Framework for "
                "Molecules and Crystals}, author={Chen, Chi and Ye, Weike and Zuo, Yunxing and Zheng, Chen and "
                "Ong, Shyue Ping}, journal={Chemistry of Materials}, volume={31}, pages={3564--3572}, year={2019}}"]


class SubstitutionChemistry(KernelFeaturizer):
    """Polyanion, charge-balance and substitution descriptors.

    T = framework (non-Li) cations, A = anions, X = halogens; host cations are those with at least
    `rules.MINOR_SHARE` of T, dopants the rest. Valences are `nominal_valence`, radii `cation_radius`
    (read from the shipped element tables).

    * ``anion_per_framework_cation`` (A/T: 4 for PS4/GeS4/SiO4 units, 3.5 for P2S7, 3 for P2S6,
      6 for argyrodites), ``chalcogen_per_framework_cation``, ``halogen_per_framework_cation``;
    * ``halogen_excess``: halogens per framework cation beyond 1 (argyrodite Li(7-x)PS(6-x)X(x), x > 1);
    * ``framework_valence_mean`` (T-weighted nominal valence), ``framework_valence_from_balance``
      ((anion charge - Li) / T, what charge neutrality asks of the framework);
    * ``li_excess_per_anion``: (Li - (anion charge - nominal framework charge)) / A, > 0 for Li beyond
      what the nominal valences balance, < 0 for Li vacancies;
    * ``dopant_fraction`` (dopant share of T), ``n_dopant_species``, ``dopant_valence_offset``
      (dopant minus host mean valence, 0 without dopants: aliovalent substitution),
      ``dopant_radius_mismatch`` (dopant minus host mean radius, Å, 0 without dopants),
      ``framework_radius_mean``, ``framework_radius_spread`` (max - min over T, Å).
    """

    labels = rules.SUBSTITUTION_LABELS

    def _kernel(self, batch: CompositionBatch, *columns: Sequence[Any]) -> np.ndarray:
        return descriptors.substitution_features(batch)
