import pytest

from anomaly_detector.settings import Settings
from factories import service_clients, write_bundle


@pytest.fixture
def model(tmp_path):
    """(bundle, path) of a small traffic model in tmp_path."""
    return write_bundle(tmp_path / "models", seed=11)


@pytest.fixture
def make_client(model):
    with service_clients() as start:
        yield lambda **overrides: start(
            Settings(**{"model_path": model[1], "reload_interval_seconds": 0.2, **overrides})
        )


@pytest.fixture(params=[True, False], ids=["fast-lane", "routed"])
def client(make_client, request):
    """A client on the fast lane and one through FastAPI routing: both must behave the same."""
    return make_client(fast_lane=request.param)


@pytest.fixture
def metric(client):
    def value(name, **labels):
        return client.app.state.metrics.registry.get_sample_value(name, labels) or 0.0

    return value
