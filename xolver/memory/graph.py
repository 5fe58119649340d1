"""The experience graph: solved problems linked to the strategies and code fragments that solved them."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx


class ExperienceGraph:
    """Nodes are experience ids; an edge joins two experiences one of them links to. Derived from `links`."""

    def __init__(self) -> None:
        self.graph = nx.Graph()

    def add(self, id_: str, links: Iterable[str]) -> None:
        self.graph.add_node(id_)
        for other in links:
            self.graph.add_edge(id_, other)

    def neighbours(self, ids: Iterable[str], *, hops: int = 1) -> list[str]:
        """Experiences within `hops` links of `ids`, nearest first, excluding `ids` themselves."""
        start = [i for i in ids if i in self.graph]
        seen = set(start)
        found: list[str] = []
        frontier = start
        for _ in range(hops):
            nxt = []
            for node in frontier:
                for other in sorted(self.graph.neighbors(node)):
                    if other not in seen:
                        seen.add(other)
                        found.append(other)
                        nxt.append(other)
            frontier = nxt
        return found
