"""Layer versions over the store: publish, read, list, delete."""

from __future__ import annotations

from gureum.lambda_.domain.arns import parse_layer_name, parse_layer_version_arn
from gureum.lambda_.domain.errors import InvalidParameterValue, ResourceNotFound
from gureum.lambda_.domain.functions import Code
from gureum.lambda_.domain.layers import LayerVersion
from gureum.lambda_.services.context import Caller, Ports
from gureum.lambda_.services.functions import PAGE_LIMIT, Page, keep_package

MISSING = "The resource you requested does not exist."


class LayerService:
    """Layer versions: numbered, immutable, never renumbered."""

    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    @staticmethod
    def _name(caller: Caller, layer_name: str) -> str:
        name, region, account = parse_layer_name(layer_name)
        if (region, account) not in ((None, None), (caller.region, caller.account)):
            raise ResourceNotFound(MISSING)
        return name

    def publish(
        self,
        caller: Caller,
        layer_name: str,
        code: Code,
        description: str,
        runtimes: tuple[str, ...],
        architectures: tuple[str, ...],
        license_info: str | None,
    ) -> LayerVersion:
        name = self._name(caller, layer_name)
        with self._ports.store.transaction() as tx:
            number = tx.next_layer_version(caller.account, caller.region, name)
            layer = LayerVersion(
                caller.account,
                caller.region,
                name,
                number,
                keep_package(self._ports.code, code),
                self._ports.clock.now(),
                description,
                runtimes,
                architectures,
                license_info,
            )
            tx.put_layer_version(layer)
        return layer

    @staticmethod
    def _check_number(number: int) -> None:
        # The model sets no minimum, so a 0 or -1 reaches the service, which refuses it itself.
        if number < 1:
            raise InvalidParameterValue("Layer Version Cannot be less than 1")

    def get(self, caller: Caller, layer_name: str, number: int) -> LayerVersion:
        self._check_number(number)
        name = self._name(caller, layer_name)
        with self._ports.store.transaction() as tx:
            layer = tx.get_layer_version(caller.account, caller.region, name, number)
        if layer is None:
            raise ResourceNotFound(MISSING)
        return layer

    def get_by_arn(self, caller: Caller, arn: str) -> LayerVersion:
        ref = parse_layer_version_arn(arn)
        if ref is None:
            raise InvalidParameterValue(f"Invalid layer version ARN: {arn}")
        if (ref.region, ref.account) != (caller.region, caller.account):
            raise ResourceNotFound(MISSING)
        return self.get(caller, ref.name, ref.version)

    def delete(self, caller: Caller, layer_name: str, number: int) -> None:
        self._check_number(number)
        name = self._name(caller, layer_name)
        with self._ports.store.transaction() as tx:
            layer = tx.get_layer_version(caller.account, caller.region, name, number)
            if layer is None:
                return  # DeleteLayerVersion is idempotent.
            tx.delete_layer_version(layer)
            # Under the transaction, so no publish can start using the blob in between.
            if not tx.blob_in_use(layer.code.blob):
                self._ports.code.remove(layer.code.blob)

    def list_versions(
        self,
        caller: Caller,
        layer_name: str,
        runtime: str | None,
        architecture: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> Page[LayerVersion]:
        name = self._name(caller, layer_name)
        with self._ports.store.transaction() as tx:
            layers = tx.list_layer_versions(caller.account, caller.region, name)
        layers = [layer for layer in layers if layer.compatible_with(runtime, architecture)]
        return _page(layers, marker, max_items, lambda layer: str(layer.version))

    def list_layers(
        self,
        caller: Caller,
        runtime: str | None,
        architecture: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> Page[LayerVersion]:
        with self._ports.store.transaction() as tx:
            layers = tx.list_latest_layer_versions(caller.account, caller.region)
            if runtime is not None or architecture is not None:
                # Each layer shows its newest *matching* version, which need not be its newest.
                found = (
                    _newest_matching(
                        tx.list_layer_versions(caller.account, caller.region, latest.name),
                        runtime,
                        architecture,
                    )
                    for latest in layers
                )
                layers = [layer for layer in found if layer is not None]
        return _page(layers, marker, max_items, lambda layer: layer.name)


def _newest_matching(
    versions: list[LayerVersion], runtime: str | None, architecture: str | None
) -> LayerVersion | None:
    """The first of `versions` (newest first) compatible with the filters."""
    return next((v for v in versions if v.compatible_with(runtime, architecture)), None)


def _page(
    items: list[LayerVersion], marker: str | None, max_items: int | None, key: object
) -> Page[LayerVersion]:
    assert callable(key)
    limit = min(max_items or PAGE_LIMIT, PAGE_LIMIT)
    start = 0
    if marker is not None:
        keys = [key(item) for item in items]
        start = keys.index(marker) + 1 if marker in keys else len(items)
    page = items[start : start + limit]
    more = start + limit < len(items)
    return Page(page, str(key(page[-1])) if more and page else None)
