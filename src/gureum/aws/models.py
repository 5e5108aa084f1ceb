"""botocore's service models, read through its loader alone.

Every wire adapter is driven by botocore's model of its service. botocore's session would load
them too, but importing it imports botocore's client, waiters and documentation machinery as
well, 80 ms of every server start for none of what gureum uses; its loader reads the same files
(and AWS_DATA_PATH, as the session does).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from botocore.loaders import create_loader
from botocore.model import ServiceModel


class ServiceModels:
    """Models by botocore's service name, each read once. Any thread."""

    def __init__(self) -> None:
        self.loader: Any = create_loader(os.environ.get("AWS_DATA_PATH"))
        self._models: dict[str, ServiceModel] = {}
        self._lock = threading.Lock()

    def get_service_model(self, service: str) -> ServiceModel:
        model = self._models.get(service)
        if model is None:
            with self._lock:
                model = self._models.get(service)
                if model is None:
                    description = self.loader.load_service_model(service, "service-2")
                    model = ServiceModel(description, service_name=service)
                    self._models[service] = model
        return model
